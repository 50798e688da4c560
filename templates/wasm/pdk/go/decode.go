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
	// text is b as one string, made once: the strings read out of it (names, values without escapes)
	// are its substrings rather than an allocation each.
	input string
}

// decodeHandle reads the `handle` input into its route key and request.
func decodeHandle(b []byte) (key string, req Request, err error) {
	s := scanner{b: b, input: string(b)}
	s.space()
	if !s.null() {
		err = s.object(func(name string) error {
			switch {
			case field(name, "key", "KEY"):
				return s.text(&key)
			case field(name, "request", "REQUEST"):
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
		switch {
		case field(name, "id", "ID"):
			return s.text(&r.ID)
		case field(name, "method", "METHOD"):
			return s.text(&r.Method)
		case field(name, "path", "PATH"):
			return s.text(&r.Path)
		case field(name, "params", "PARAMS"):
			return s.texts(&r.Params)
		case field(name, "query", "QUERY"):
			return s.values(&r.Query)
		case field(name, "headers", "HEADERS"):
			return s.values(&r.Headers)
		case field(name, "body", "BODY"):
			// The input's own bytes, capped so that an append by the handler copies them first.
			start := s.space()
			err := s.skip()
			if err == nil {
				r.Body = s.b[start:s.i:s.i]
			}
			return err
		case field(name, "userId", "USERID"):
			v, err := s.value()
			r.UserID = v
			return err
		}
		return s.skip()
	})
}

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

// skip checks one value of any kind and steps over it.
func (s *scanner) skip() error {
	s.space()
	if s.i >= len(s.b) {
		return errSyntax
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, _, err := s.span()
		return err
	case c == '{':
		if err := s.open('{'); err != nil {
			return err
		}
		more, err := s.first('}')
		for ; more && err == nil; more, err = s.next('}') {
			if e := s.skipName(); e != nil {
				return e
			}
			if e := s.skip(); e != nil {
				return e
			}
		}
		return err
	case c == '[':
		return s.array(s.skip)
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case s.literal("true"), s.literal("false"), s.null():
		return nil
	}
	return errSyntax
}

// wrongType steps over a well-formed value of a kind the member does not take: a type error, or a
// syntax error when the value is malformed.
func (s *scanner) wrongType() error {
	if err := s.skip(); err != nil {
		return err
	}
	return errType
}

// open steps into an object or array, within encoding/json's depth.
func (s *scanner) open(c byte) error {
	if s.i >= len(s.b) || s.b[s.i] != c {
		return s.wrongType()
	}
	s.depth++
	if s.depth > maxDepth {
		return errSyntax
	}
	s.i++
	return nil
}

// first reports whether the object or array just opened has a member; next whether another follows.
func (s *scanner) first(end byte) (bool, error) {
	s.space()
	if s.i >= len(s.b) {
		return false, errSyntax
	}
	if s.b[s.i] == end {
		s.i++
		s.depth--
		return false, nil
	}
	return true, nil
}

func (s *scanner) next(end byte) (bool, error) {
	s.space()
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case ',':
			s.i++
			return true, nil
		case end:
			s.i++
			s.depth--
			return false, nil
		}
	}
	return false, errSyntax
}

// name reads a member's name and its colon.
func (s *scanner) name() (string, error) {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return "", errSyntax
	}
	name, err := s.str()
	if err != nil {
		return "", err
	}
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return "", errSyntax
	}
	s.i++
	return name, nil
}

// skipName checks a member's name and steps over it and its colon.
func (s *scanner) skipName() error {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return errSyntax
	}
	if _, _, err := s.span(); err != nil {
		return err
	}
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return errSyntax
	}
	s.i++
	return nil
}

// str reads a string: a substring of the input when it has no escape and is ASCII.
func (s *scanner) str() (string, error) {
	start, end, err := s.span()
	if err != nil {
		return "", err
	}
	if plain(s.b[start:end]) {
		return s.input[start:end], nil
	}
	return string(unquote(s.b[start:end])), nil
}

// span checks the string at s.i (its escapes, no control characters) and returns its content's bounds.
func (s *scanner) span() (start, end int, err error) {
	s.i++
	start = s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return start, s.i - 1, nil
		case c < ' ':
			return 0, 0, errSyntax
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return 0, 0, errSyntax
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) || hex4(s.b[s.i+2:s.i+6]) < 0 {
					return 0, 0, errSyntax
				}
				s.i += 6
			default:
				return 0, 0, errSyntax
			}
		default:
			s.i++
		}
	}
	return 0, 0, errSyntax
}

// number checks a number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.digits() == 0:
		return errSyntax
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return errSyntax
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return errSyntax
		}
	}
	return nil
}

func (s *scanner) digits() int {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}

// space skips JSON's whitespace and returns where the next token starts.
func (s *scanner) space() int {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return s.i
		}
	}
	return s.i
}

func (s *scanner) literal(word string) bool {
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

func (s *scanner) null() bool { return s.literal("null") }
