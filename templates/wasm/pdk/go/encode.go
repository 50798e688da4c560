package pgw

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Serve writes the response without reflection for the shapes a handler usually answers with (text,
// numbers, booleans, []any, map[string]any, json.RawMessage, a *Request) and hands any other body to
// encoding/json. The bytes are encoding/json's own, checked in envelope_test.go.

// AppendJSON appends the request as encoding/json encodes it, without reflection: a handler that
// answers with the request, or part of a body built by hand, pays no encoding/json.
func (r *Request) AppendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, r.ID)
	dst = append(dst, `,"method":`...)
	dst = appendString(dst, r.Method)
	dst = append(dst, `,"path":`...)
	dst = appendString(dst, r.Path)
	dst = append(dst, `,"params":`...)
	if r.Params == nil {
		dst = append(dst, "null"...)
	} else {
		var stack [8]string
		keys := sortedKeys(stack[:0], r.Params)
		dst = append(dst, '{')
		for n, k := range keys {
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = append(appendString(dst, k), ':')
			dst = appendString(dst, r.Params[k])
		}
		dst = append(dst, '}')
	}
	var err error
	dst = append(dst, `,"query":`...)
	if dst, err = appendAny(dst, r.Query); err != nil {
		return dst, err
	}
	dst = append(dst, `,"headers":`...)
	if dst, err = appendAny(dst, r.Headers); err != nil {
		return dst, err
	}
	if len(r.Body) > 0 {
		dst = append(dst, `,"body":`...)
		if dst, err = appendCompact(dst, r.Body); err != nil {
			return dst, err
		}
	}
	if r.UserID != nil {
		dst = append(dst, `,"userId":`...)
		if dst, err = appendAny(dst, r.UserID); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// appendResponse appends the response as encoding/json encodes a Response.
func appendResponse(dst []byte, res *Response) ([]byte, error) {
	dst = append(dst, `{"statusCode":`...)
	dst = strconv.AppendInt(dst, int64(res.StatusCode), 10)
	if len(res.Headers) > 0 {
		dst = append(dst, `,"headers":{`...)
		var stack [8]string
		for n, k := range sortedKeys(stack[:0], res.Headers) {
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = append(appendString(dst, k), ':')
			dst = appendString(dst, res.Headers[k])
		}
		dst = append(dst, '}')
	}
	if res.Body != nil {
		var err error
		dst = append(dst, `,"body":`...)
		if dst, err = appendAny(dst, res.Body); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func appendAny(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendString(dst, v), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case float64:
		return appendFloat(dst, v)
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case json.RawMessage:
		if v == nil {
			return append(dst, "null"...), nil
		}
		return appendCompact(dst, v)
	case []any:
		if v == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for n, item := range v {
			if n > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendAny(dst, item); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		if v == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '{')
		var stack [8]string
		for n, k := range sortedKeys(stack[:0], v) {
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = append(appendString(dst, k), ':')
			var err error
			if dst, err = appendAny(dst, v[k]); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case *Request:
		if v == nil {
			return append(dst, "null"...), nil
		}
		return v.AppendJSON(dst)
	}
	b, err := json.Marshal(v)
	return append(dst, b...), err
}

// sortedKeys appends m's keys to keys, sorted: encoding/json's order. The caller's keys are on its
// stack for small maps, and an empty map is not iterated (a map's iteration starts at a random
// place, which costs a random number).
func sortedKeys[V any](keys []string, m map[string]V) []string {
	if len(m) == 0 {
		return keys
	}
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// errNumber is a float encoding/json cannot write (NaN, ±Inf).
var errNumber = &json.UnsupportedValueError{Str: "NaN or Inf"}

// appendFloat writes f as encoding/json does (ES6 number formatting).
func appendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, errNumber
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if n := len(dst); format == 'e' && n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
		dst[n-2] = dst[n-1] // e-09 → e-9
		dst = dst[:n-1]
	}
	return dst, nil
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as encoding/json does: HTML characters, U+2028 and U+2029 escaped, malformed
// UTF-8 made U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(append(dst, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(append(dst, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(append(dst, s[start:]...), '"')
}

// appendCompact appends a json.RawMessage as encoding/json does: checked, whitespace outside strings
// dropped, HTML characters, U+2028 and U+2029 escaped.
func appendCompact(dst, raw []byte) ([]byte, error) {
	s := scanner{b: raw}
	if err := s.skip(); err != nil {
		return dst, err
	}
	if s.space(); s.i != len(raw) {
		return dst, errSyntax
	}
	inString, escaped := false, false
	start := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			dst = append(dst, raw[start:i]...)
			start = i + 1
		case c == '<' || c == '>' || c == '&':
			dst = append(append(dst, raw[start:i]...), '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			start = i + 1
		case c == 0xE2 && i+2 < len(raw) && raw[i+1] == 0x80 && raw[i+2]&^1 == 0xA8:
			dst = append(append(dst, raw[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[raw[i+2]&0xF])
			start = i + 3
			i += 2
		}
	}
	return append(dst, raw[start:]...), nil
}
