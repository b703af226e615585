package clienttool

// A parser that accepts exactly what cJSON 1.7.15's cJSON_ParseWithOpts
// accepts (with require_null_terminated), for %J: mosquitto_sub parses the
// payload with it and prints it again, so "1.50" comes out as "1.5" and
// whatever cJSON tolerates ("01", raw control characters in strings) is
// printed rather than refused.

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// cJSONNestingLimit is CJSON_NESTING_LIMIT.
const cJSONNestingLimit = 1000

// parseCJSON parses payload as %J does: one value, optionally surrounded by
// bytes up to 0x20 (and preceded by a UTF-8 BOM), with nothing else and no
// NUL byte.
func parseCJSON(payload []byte) (*jsonValue, bool) {
	if bytes.IndexByte(payload, 0) >= 0 {
		return nil, false // cJSON stops at the NUL, short of the payload's end
	}
	p := &cjsonParser{b: payload}
	if bytes.HasPrefix(p.b, []byte("\xEF\xBB\xBF")) {
		p.i = 3
	}
	p.skip()
	v, ok := p.value()
	if !ok {
		return nil, false
	}
	p.skip()
	return v, p.i == len(p.b)
}

type cjsonParser struct {
	b     []byte
	i     int
	depth int
}

// skip skips what cJSON counts as white space: every byte up to 0x20.
func (p *cjsonParser) skip() {
	for p.i < len(p.b) && p.b[p.i] <= 32 {
		p.i++
	}
}

func (p *cjsonParser) value() (*jsonValue, bool) {
	rest := p.b[p.i:]
	switch {
	case bytes.HasPrefix(rest, []byte("null")):
		p.i += 4
		return &jsonValue{kind: jsonNull}, true
	case bytes.HasPrefix(rest, []byte("false")):
		p.i += 5
		return &jsonValue{kind: jsonFalse}, true
	case bytes.HasPrefix(rest, []byte("true")):
		p.i += 4
		return &jsonValue{kind: jsonTrue}, true
	case len(rest) == 0:
		return nil, false
	case rest[0] == '"':
		s, ok := p.str()
		if !ok {
			return nil, false
		}
		return jsonStr(s), true
	case rest[0] == '-' || rest[0] >= '0' && rest[0] <= '9':
		return p.number()
	case rest[0] == '[':
		return p.array()
	case rest[0] == '{':
		return p.object()
	}
	return nil, false
}

// number is parse_number: the run of characters among "0123456789+-eE."
// (at most 63), read with strtod, which may stop short of its end.
func (p *cjsonParser) number() (*jsonValue, bool) {
	j := p.i
	for j < len(p.b) && j-p.i < 63 && bytes.IndexByte([]byte("0123456789+-eE."), p.b[j]) >= 0 {
		j++
	}
	run := string(p.b[p.i:j])
	n := strtodPrefix(run)
	if n == 0 {
		return nil, false
	}
	f, err := strconv.ParseFloat(run[:n], 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			return nil, false
		}
	}
	p.i += n
	return jsonNum(f), true
}

// strtodPrefix returns the length of the longest prefix of s (made of
// digits, signs, 'e' and '.') that strtod reads as a decimal number.
func strtodPrefix(s string) int {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0
	}
	return exponentEnd(s, i, "eE")
}

// str is parse_string: escapes decoded, every other byte kept as it is.
func (p *cjsonParser) str() (string, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", false
	}
	// Find the closing quote, skipping escaped characters.
	end := p.i + 1
	for end < len(p.b) && p.b[end] != '"' {
		if p.b[end] == '\\' {
			end++
		}
		end++
	}
	if end >= len(p.b) {
		return "", false
	}
	in := p.b[p.i+1 : end]
	var out []byte
	for k := 0; k < len(in); k++ {
		c := in[k]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if k+1 >= len(in) {
			return "", false
		}
		k++
		switch in[k] {
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
		case '"', '\\', '/':
			out = append(out, in[k])
		case 'u':
			r, n, ok := utf16Literal(in[k-1:])
			if !ok {
				return "", false
			}
			out = utf8.AppendRune(out, r)
			k += n - 2
		default:
			return "", false
		}
	}
	p.i = end + 1
	return string(out), true
}

// utf16Literal decodes "\uXXXX" (and a following low surrogate "\uXXXX")
// at the start of in, as utf16_literal_to_utf8 does, and returns the code
// point and how many bytes it used.
func utf16Literal(in []byte) (rune, int, bool) {
	hex4 := func(b []byte) (rune, bool) {
		if len(b) < 4 {
			return 0, false
		}
		v, err := strconv.ParseUint(string(b[:4]), 16, 16)
		if err != nil || b[0] == '+' || b[0] == '-' {
			return 0, false
		}
		return rune(v), true
	}
	if len(in) < 6 {
		return 0, 0, false
	}
	first, ok := hex4(in[2:])
	if !ok || first >= 0xDC00 && first <= 0xDFFF {
		return 0, 0, false
	}
	if first >= 0xD800 && first <= 0xDBFF {
		if len(in) < 12 || in[6] != '\\' || in[7] != 'u' {
			return 0, 0, false
		}
		second, ok := hex4(in[8:])
		if !ok || second < 0xDC00 || second > 0xDFFF {
			return 0, 0, false
		}
		return 0x10000 + (first&0x3FF)<<10 | second&0x3FF, 12, true
	}
	return first, 6, true
}

// array parses an array, at its '['.
func (p *cjsonParser) array() (*jsonValue, bool) {
	return p.container(jsonArray, ']', func(v *jsonValue) bool {
		item, ok := p.value()
		if ok {
			v.items = append(v.items, item)
		}
		return ok
	})
}

// object parses an object, at its '{'.
func (p *cjsonParser) object() (*jsonValue, bool) {
	return p.container(jsonObject, '}', func(v *jsonValue) bool {
		key, ok := p.str()
		if !ok {
			return false
		}
		p.skip()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return false
		}
		p.i++
		p.skip()
		item, ok := p.value()
		if ok {
			v.add(key, item)
		}
		return ok
	})
}

// container parses an array or object, at its opening bracket, up to its
// closing byte end: member parses one element into v (white space around
// it is skipped here), and elements are separated by commas. Nesting
// deeper than cJSON's limit is refused.
func (p *cjsonParser) container(kind jsonKind, end byte, member func(v *jsonValue) bool) (*jsonValue, bool) {
	if p.depth >= cJSONNestingLimit {
		return nil, false
	}
	p.depth++
	defer func() { p.depth-- }()
	p.i++ // '[' or '{'
	v := &jsonValue{kind: kind}
	p.skip()
	if p.i < len(p.b) && p.b[p.i] == end {
		p.i++
		return v, true
	}
	for {
		p.skip()
		if !member(v) {
			return nil, false
		}
		p.skip()
		if p.i >= len(p.b) {
			return nil, false
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case end:
			p.i++
			return v, true
		default:
			return nil, false
		}
	}
}
