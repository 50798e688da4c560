package pgw

import (
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// plain is whether a string's content needs no unquoting: ASCII without escapes.
func plain(raw []byte) bool {
	for _, c := range raw {
		if c == '\\' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// unquote is a checked string's content as encoding/json unquotes it: escapes resolved, a lone
// surrogate and malformed UTF-8 made U+FFFD.
func unquote(raw []byte) []byte {
	out := make([]byte, 0, len(raw)+utf8.UTFMax)
	for r := 0; r < len(raw); {
		c := raw[r]
		switch {
		case c == '\\':
			switch raw[r+1] {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				rr := hex4(raw[r+2 : r+6])
				r += 6
				if utf16.IsSurrogate(rr) {
					var low rune = -1
					if r+6 <= len(raw) && raw[r] == '\\' && raw[r+1] == 'u' {
						low = hex4(raw[r+2 : r+6])
					}
					if dec := utf16.DecodeRune(rr, low); dec != unicode.ReplacementChar {
						r += 6
						out = utf8.AppendRune(out, dec)
						continue
					}
					rr = unicode.ReplacementChar
				}
				out = utf8.AppendRune(out, rr)
				continue
			default: // '"', '\\', '/'
				out = append(out, raw[r+1])
			}
			r += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			r++
		default:
			rr, size := utf8.DecodeRune(raw[r:])
			out = utf8.AppendRune(out, rr)
			r += size
		}
	}
	return out
}

// hex4 is the value of four hexadecimal digits, or -1.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// lookup is the index of the field a member's name selects, or -1: the name exactly, else as
// encoding/json folds names (each letter to the least of its Unicode case orbit, so "ID" and
// "\u212aey" match too), folded once.
func lookup(name string, fields, folded []string) int {
	for i, f := range fields {
		if name == f {
			return i
		}
	}
	var buf [16]byte
	key := buf[:0]
	for i := 0; i < len(name); {
		if c := name[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			key = append(key, c)
			i++
		} else {
			r, n := utf8.DecodeRuneInString(name[i:])
			key = utf8.AppendRune(key, foldRune(r))
			i += n
		}
		if len(key) > len(buf)-utf8.UTFMax {
			return -1 // longer than any field's name
		}
	}
	for i, f := range folded {
		if string(key) == f {
			return i
		}
	}
	return -1
}

// foldRune is the least rune of r's simple case-folding orbit, as encoding/json folds names.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}
