package pgw

// The scanner's lexical steps: checking and stepping over values, strings, numbers and separators as
// encoding/json's scanner accepts them.

// skip checks one value of any kind and steps over it. It loops rather than recursing: a request's
// body, which a client chooses, may nest as deep as encoding/json allows (10,000), deeper than the
// wasm stack takes Go's frames.
func (s *scanner) skip() error {
	var inline [32]bool
	open := inline[:0] // the containers the value is in: true for an object, false for an array
	for {
		s.space()
		if s.i >= len(s.b) {
			return errSyntax
		}
		switch c := s.b[s.i]; {
		case c == '{' || c == '[':
			s.depth++
			if s.depth > maxDepth {
				return errSyntax
			}
			s.i++
			s.space()
			if s.i < len(s.b) && (s.b[s.i] == '}' && c == '{' || s.b[s.i] == ']' && c == '[') {
				s.i++
				s.depth--
				break // an empty container: a whole value
			}
			open = append(open, c == '{')
			if c == '{' {
				if err := s.skipName(); err != nil {
					return err
				}
			}
			continue // its first member's value
		case c == '"':
			if _, _, err := s.span(); err != nil {
				return err
			}
		case c == '-' || c >= '0' && c <= '9':
			if err := s.number(); err != nil {
				return err
			}
		case s.literal("true"), s.literal("false"), s.null():
		default:
			return errSyntax
		}
		// A value ended: close the containers it ends, or step to the next member.
	closing:
		for {
			if len(open) == 0 {
				return nil
			}
			s.space()
			if s.i >= len(s.b) {
				return errSyntax
			}
			object := open[len(open)-1]
			switch s.b[s.i] {
			case ',':
				s.i++
				if object {
					if err := s.skipName(); err != nil {
						return err
					}
				}
				break closing
			case '}', ']':
				if (s.b[s.i] == '}') != object {
					return errSyntax
				}
				s.i++
				s.depth--
				open = open[:len(open)-1]
			default:
				return errSyntax
			}
		}
	}
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
