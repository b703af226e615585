package clienttool

// C's number parsing and libmosquitto's string checks, as Mosquitto's
// tools apply them to their arguments: "-p 80x" is port 80 there, so it is
// here too.

import (
	"math"
	"strconv"
	"strings"
)

// cSpace reports whether c is white space for isspace() in the C locale.
func cSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// cStrtol parses like strtol(s, &end, base) with base 10 or 0 and returns
// the value (saturated at the limits of a 64-bit long) and how many bytes
// it used (0 if no number).
func cStrtol(s string, base int) (int64, int) {
	i := 0
	for i < len(s) && cSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	digits := func(b int) (uint64, int, bool) { // value, end, overflow
		var v uint64
		j, over := i, false
		for ; j < len(s); j++ {
			d := digitVal(s[j])
			if d >= b {
				break
			}
			if v > (math.MaxUint64-uint64(d))/uint64(b) {
				over = true
			} else {
				v = v*uint64(b) + uint64(d)
			}
		}
		return v, j, over
	}
	b := base
	if base == 0 {
		b = 10
		if i < len(s) && s[i] == '0' {
			b = 8
			if i+2 < len(s)+1 && i+1 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X') && i+2 < len(s) && digitVal(s[i+2]) < 16 {
				i += 2
				b = 16
			}
		}
	}
	v, end, over := digits(b)
	if end == i {
		return 0, 0
	}
	switch {
	case !neg && (over || v > math.MaxInt64):
		return math.MaxInt64, end
	case neg && (over || v > 1<<63):
		return math.MinInt64, end
	case neg:
		return -int64(v), end
	}
	return int64(v), end
}

func digitVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return 99
}

// cAtol is atol: strtol in base 10, 0 for no number.
func cAtol(s string) int64 {
	v, _ := cStrtol(s, 10)
	return v
}

// cAtoi is glibc's atoi: (int)strtol(s, NULL, 10), which keeps the low 32
// bits of the saturated long.
func cAtoi(s string) int {
	return int(int32(cAtol(s)))
}

// cStrtol0 parses s with strtol(s, &end, 0) and reports whether all of it
// was a number, as -x requires.
func cStrtol0(s string) (int64, bool) {
	v, n := cStrtol(s, 0)
	return v, n > 0 && n == len(s)
}

// cAtof is atof: strtod on the longest prefix of s that is a number
// (decimal, hexadecimal, inf or nan), 0 for none.
func cAtof(s string) float64 {
	i := 0
	for i < len(s) && cSpace(s[i]) {
		i++
	}
	start := i
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	rest := strings.ToLower(s[i:])
	switch {
	case strings.HasPrefix(rest, "infinity"):
		i += 8
	case strings.HasPrefix(rest, "inf"):
		i += 3
	case strings.HasPrefix(rest, "nan"):
		i += 3
	case strings.HasPrefix(rest, "0x") && len(rest) > 2 && (digitVal(rest[2]) < 16 || rest[2] == '.' && len(rest) > 3 && digitVal(rest[3]) < 16):
		j := i + 2
		for j < len(s) && digitVal(s[j]) < 16 {
			j++
		}
		if j < len(s) && s[j] == '.' {
			j++
			for j < len(s) && digitVal(s[j]) < 16 {
				j++
			}
		}
		num := s[start:j]
		if k := exponentEnd(s, j, "pP"); k > j {
			num = s[start:k]
		}
		if !strings.ContainsAny(num, "pP") {
			num += "p0"
		}
		v, _ := strconv.ParseFloat(num, 64)
		return v
	default:
		n := strtodPrefix(s[start:])
		if n == 0 {
			return 0
		}
		i = start + n
	}
	v, err := strconv.ParseFloat(s[start:i], 64)
	if err != nil {
		// Out of range: ParseFloat returns ±Inf or 0 as strtod does.
		return v
	}
	return v
}

// clampFloat32ToInt32 converts f as C's (int)f does on x86-64 for values in
// range; out of range (undefined in C) it gives INT_MIN, as cvttss2si does.
func clampFloat32ToInt32(f float32) int32 {
	if f != f || f >= 2147483648 || f < -2147483648 {
		return math.MinInt32
	}
	return int32(f)
}

// validUTF8 reports whether s passes mosquitto_validate_utf8: well-formed
// UTF-8 of at most 65536 bytes without U+0000, surrogates, non-characters
// or control characters.
func validUTF8(s string) bool {
	if len(s) > 65536 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		var n int
		var cp rune
		switch {
		case b == 0:
			return false
		case b <= 0x7f:
			n, cp = 1, rune(b)
		case b&0xE0 == 0xC0:
			if b == 0xC0 || b == 0xC1 {
				return false
			}
			n, cp = 2, rune(b&0x1F)
		case b&0xF0 == 0xE0:
			n, cp = 3, rune(b&0x0F)
		case b&0xF8 == 0xF0:
			if b > 0xF4 {
				return false
			}
			n, cp = 4, rune(b&0x07)
		default:
			return false
		}
		if i+n > len(s) {
			return false
		}
		for j := 1; j < n; j++ {
			i++
			if s[i]&0xC0 != 0x80 {
				return false
			}
			cp = cp<<6 | rune(s[i]&0x3F)
		}
		switch {
		case cp >= 0xD800 && cp <= 0xDFFF:
			return false
		case n == 3 && cp < 0x0800:
			return false
		case n == 4 && (cp < 0x10000 || cp > 0x10FFFF):
			return false
		case cp >= 0xFDD0 && cp <= 0xFDEF:
			return false
		case cp&0xFFFF == 0xFFFE || cp&0xFFFF == 0xFFFF:
			return false
		case cp <= 0x1F || cp >= 0x7F && cp <= 0x9F:
			return false
		}
	}
	return true
}

// pubTopicOK reports whether mosquitto_pub_topic_check accepts a topic
// name: no wildcards, at most 65535 bytes. The empty topic passes here;
// publishing refuses it later.
func pubTopicOK(s string) bool {
	return !strings.ContainsAny(s, "+#") && len(s) <= 65535
}

// subTopicOK reports whether mosquitto_sub_topic_check accepts a filter:
// '+' and '#' only as whole levels, '#' last.
func subTopicOK(s string) bool {
	var prev byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		var next byte
		if i+1 < len(s) {
			next = s[i+1]
		}
		switch c {
		case '+':
			if prev != 0 && prev != '/' || next != 0 && next != '/' {
				return false
			}
		case '#':
			if prev != 0 && prev != '/' || i+1 < len(s) {
				return false
			}
		}
		prev = c
	}
	return len(s) <= 65535
}

// exponentEnd returns the end of the exponent that starts at s[j]: one of
// marks, an optional sign and at least one decimal digit; j if there is no
// whole exponent there.
func exponentEnd(s string, j int, marks string) int {
	if j >= len(s) || strings.IndexByte(marks, s[j]) < 0 {
		return j
	}
	k := j + 1
	if k < len(s) && (s[k] == '+' || s[k] == '-') {
		k++
	}
	if k >= len(s) || s[k] < '0' || s[k] > '9' {
		return j
	}
	for k < len(s) && s[k] >= '0' && s[k] <= '9' {
		k++
	}
	return k
}
