package pgw

import (
	"errors"
	"strconv"
)

// The `handle` envelope, {"key":"METHOD /path","request":{...}}, has a fixed shape, so Serve reads
// it with the scanner below rather than encoding/json: no reflection, and the request's body stays
// the input's own bytes (json.RawMessage) until a handler asks for it. It accepts and refuses exactly
// what json.Unmarshal into the same structs does (names matched as encoding/json folds them, unknown
// members skipped but checked, null leaving a field as it was, a repeated member merged into the
// same maps), which envelope_test.go checks against encoding/json, fuzzing included.

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// errSyntax is input json.Unmarshal refuses as malformed.
var errSyntax = errors.New("pgw: the gateway's input is not valid JSON")

// errType is well-formed input with a member of a type the envelope does not allow.
var errType = errors.New("pgw: the gateway's input has a member of the wrong type")

type scanner struct {
	b     []byte
	i     int
	depth int
	// input is b as one string, made once: the strings read out of it (names, values without escapes)
	// are its substrings rather than an allocation each.
	input string
}

// decodeHandle reads the `handle` input into its route key and request.
func decodeHandle(b []byte) (key string, req Request, err error) {
	s := scanner{b: b, input: string(b)}
	s.space()
	if !s.null() {
		err = s.object(func(name string) error {
			switch lookup(name, envelopeFields[:], envelopeFolded[:]) {
			case fieldKey:
				return s.text(&key)
			case fieldRequest:
				return s.request(&req)
			}
			return s.skip()
		})
	}
	if err == nil {
		s.space()
		if s.i != len(s.b) {
			err = errSyntax
		}
	}
	return key, req, err
}

func (s *scanner) request(r *Request) error {
	s.space()
	if s.null() {
		return nil
	}
	return s.object(func(name string) error {
		switch lookup(name, requestFields[:], requestFolded[:]) {
		case fieldID:
			return s.text(&r.ID)
		case fieldMethod:
			return s.text(&r.Method)
		case fieldPath:
			return s.text(&r.Path)
		case fieldParams:
			return s.texts(&r.Params)
		case fieldQuery:
			return s.values(&r.Query)
		case fieldHeaders:
			return s.values(&r.Headers)
		case fieldBody:
			start := s.space()
			err := s.skip()
			if err == nil {
				// The input's own bytes, capped so that an append by the handler copies them first.
				r.Body = s.b[start:s.i:s.i]
			}
			return err
		case fieldUserID:
			v, err := s.value()
			r.UserID = v
			return err
		}
		return s.skip()
	})
}

// The members of the envelope and of the request, by name and as encoding/json folds the name; the
// constants are their indexes.
const (
	fieldKey = iota
	fieldRequest
)

const (
	fieldID = iota
	fieldMethod
	fieldPath
	fieldParams
	fieldQuery
	fieldHeaders
	fieldBody
	fieldUserID
)

var (
	envelopeFields = [...]string{"key", "request"}
	envelopeFolded = [...]string{"KEY", "REQUEST"}
	requestFields  = [...]string{"id", "method", "path", "params", "query", "headers", "body", "userId"}
	requestFolded  = [...]string{"ID", "METHOD", "PATH", "PARAMS", "QUERY", "HEADERS", "BODY", "USERID"}
)

// object reads the object at s.i, calling member with each member's name when the scanner stands on
// its value. Anything but an object is a type error when well formed.
func (s *scanner) object(member func(name string) error) error {
	if err := s.open('{'); err != nil {
		return err
	}
	more, err := s.first('}')
	for ; more && err == nil; more, err = s.next('}') {
		name, e := s.name()
		if e == nil {
			e = member(name)
		}
		if e != nil {
			return e
		}
	}
	return err
}

// text reads a string member; null leaves it unchanged.
func (s *scanner) text(to *string) error {
	s.space()
	if s.null() {
		return nil
	}
	if s.i < len(s.b) && s.b[s.i] == '"' {
		v, err := s.str()
		*to = v
		return err
	}
	return s.wrongType()
}

// texts reads a map[string]string member (params): null empties it, a repeated one merges.
func (s *scanner) texts(to *map[string]string) error {
	s.space()
	if s.null() {
		*to = nil
		return nil
	}
	if s.i < len(s.b) && s.b[s.i] == '{' && *to == nil {
		*to = map[string]string{}
	}
	return s.object(func(name string) error {
		var v string
		err := s.text(&v)
		(*to)[name] = v
		return err
	})
}

// values reads a map[string]any member (query, headers): null empties it, a repeated one merges.
func (s *scanner) values(to *map[string]any) error {
	s.space()
	if s.null() {
		*to = nil
		return nil
	}
	if s.i < len(s.b) && s.b[s.i] == '{' && *to == nil {
		*to = map[string]any{}
	}
	return s.object(func(name string) error {
		v, err := s.value()
		(*to)[name] = v
		return err
	})
}

// value reads any JSON value as encoding/json does into an `any`.
func (s *scanner) value() (any, error) {
	s.space()
	if s.i >= len(s.b) {
		return nil, errSyntax
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.str()
	case c == '{':
		m := map[string]any{}
		return m, s.object(func(name string) error {
			v, err := s.value()
			m[name] = v
			return err
		})
	case c == '[':
		list := []any{}
		err := s.array(func() error {
			v, err := s.value()
			list = append(list, v)
			return err
		})
		return list, err
	case c == '-' || c >= '0' && c <= '9':
		start := s.i
		if err := s.number(); err != nil {
			return nil, err
		}
		f, err := strconv.ParseFloat(string(s.b[start:s.i]), 64)
		if err != nil {
			return nil, errType // out of float64's range: encoding/json's UnmarshalTypeError
		}
		return f, nil
	case s.literal("true"):
		return true, nil
	case s.literal("false"):
		return false, nil
	case s.null():
		return nil, nil
	}
	return nil, errSyntax
}

func (s *scanner) array(item func() error) error {
	if err := s.open('['); err != nil {
		return err
	}
	more, err := s.first(']')
	for ; more && err == nil; more, err = s.next(']') {
		if e := item(); e != nil {
			return e
		}
	}
	return err
}
