package plugin

import (
	"errors"
	"fmt"
)

// ErrPluginLimit is wrapped by KVSet's error when the store is full: past limits.kvKeys keys, or past
// resources.disk MiB (at most limits.kvBytes) of keys and values. Nothing was kept.
var ErrPluginLimit = errors.New("PGW_ERR_PLUGIN_LIMIT")

// KVGet reads key from the plugin's key/value store, which lives in the gateway's memory for the
// plugin (it outlives a restart of this process, not an unload or a swap): the value and true, or ""
// and false when the key is not set. resources.disk in plugin.yaml grants the store.
func (c *Context) KVGet(key string) (string, bool, error) {
	answer, err := c.kv(map[string]any{"op": "get", "key": key})
	if err != nil {
		return "", false, err
	}
	value, found := answer["value"].(string)
	return value, found, nil
}

// KVSet keeps value under key (keys at most 1 KiB); an error wrapping ErrPluginLimit when the store
// is full.
func (c *Context) KVSet(key, value string) error {
	_, err := c.kv(map[string]any{"op": "set", "key": key, "value": value})
	return err
}

// KVDelete removes key (nothing happens when it is not set).
func (c *Context) KVDelete(key string) error {
	_, err := c.kv(map[string]any{"op": "delete", "key": key})
	return err
}

func (c *Context) kv(note map[string]any) (map[string]any, error) {
	note["pgw"] = "kv"
	op := note["op"]
	answer, err := c.session.ask(c, note)
	if err != nil {
		return nil, err
	}
	if why, refused := answer["error"].(string); refused {
		if code := ErrPluginLimit.Error(); len(why) >= len(code) && why[:len(code)] == code {
			return nil, fmt.Errorf("kv %s: %w%s", op, ErrPluginLimit, why[len(code):])
		}
		return nil, fmt.Errorf("kv %s: %s", op, why)
	}
	return answer, nil
}
