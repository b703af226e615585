package logging

import (
	"strconv"
	"strings"
	"time"
)

// Strftime formats t as C's strftime(3) does with format, in the C locale,
// for the conversions glibc documents: %a %A %b %B %c %C %d %D %e %F %g %G %h
// %H %I %j %k %l %m %M %n %p %P %r %R %s %S %t %T %u %U %V %w %W %x %X %y %Y
// %z %Z %+ and %%. Glibc's flags (_ - 0 ^ #) and field widths are accepted
// before a conversion; of them "-" (no padding), "_" (space padding), "0" and
// "^" (upper case) are applied. An unknown conversion is copied unchanged, as
// glibc does. Mosquitto passes log_timestamp_format to strftime, so this is
// what makes "%Y-%m-%dT%H:%M:%S" and friends work as they do there.
func Strftime(format string, t time.Time) string {
	var b strings.Builder
	b.Grow(len(format) + 16)
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 >= len(format) {
			b.WriteByte(c)
			continue
		}
		start := i
		i++
		// Flags and width.
		pad, upper := byte(0), false
		for i < len(format) && strings.IndexByte("_-0^#", format[i]) >= 0 {
			switch format[i] {
			case '_':
				pad = ' '
			case '-':
				pad = '-'
			case '0':
				pad = '0'
			case '^':
				upper = true
			}
			i++
		}
		width := 0
		for i < len(format) && format[i] >= '0' && format[i] <= '9' {
			width = width*10 + int(format[i]-'0')
			i++
		}
		for i < len(format) && (format[i] == 'E' || format[i] == 'O') {
			i++ // locale modifiers: no effect in the C locale
		}
		if i >= len(format) {
			b.WriteString(format[start:])
			break
		}
		s, numeric, ok := conv(format[i], t)
		if !ok {
			b.WriteString(format[start : i+1])
			continue
		}
		if numeric && pad != 0 {
			s = repad(s, pad)
		}
		if upper {
			s = strings.ToUpper(s)
		}
		for n := len(s); n < width; n++ {
			if numeric && pad != ' ' && pad != '-' {
				b.WriteByte('0')
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(s)
	}
	return b.String()
}

// repad replaces the leading zero or space padding of a numeric conversion.
func repad(s string, pad byte) string {
	trimmed := strings.TrimLeft(s, "0 ")
	if trimmed == "" {
		trimmed = "0"
	}
	switch pad {
	case '-':
		return trimmed
	case ' ', '0':
		return strings.Repeat(string(pad), len(s)-len(trimmed)) + trimmed
	}
	return s
}

func two(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

func spaced(n int) string {
	if n < 10 {
		return " " + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// conv returns the text of one conversion, whether it is numeric (padding
// flags apply) and whether c is a known conversion.
func conv(c byte, t time.Time) (string, bool, bool) {
	hour12 := t.Hour() % 12
	if hour12 == 0 {
		hour12 = 12
	}
	switch c {
	case 'a':
		return t.Weekday().String()[:3], false, true
	case 'A':
		return t.Weekday().String(), false, true
	case 'b', 'h':
		return t.Month().String()[:3], false, true
	case 'B':
		return t.Month().String(), false, true
	case 'c':
		return Strftime("%a %b %e %H:%M:%S %Y", t), false, true
	case 'C':
		return two(t.Year() / 100), true, true
	case 'd':
		return two(t.Day()), true, true
	case 'D', 'x':
		return Strftime("%m/%d/%y", t), false, true
	case 'e':
		return spaced(t.Day()), true, true
	case 'F':
		return Strftime("%Y-%m-%d", t), false, true
	case 'g':
		y, _ := t.ISOWeek()
		return two(y % 100), true, true
	case 'G':
		y, _ := t.ISOWeek()
		return strconv.Itoa(y), true, true
	case 'H':
		return two(t.Hour()), true, true
	case 'I':
		return two(hour12), true, true
	case 'j':
		d := t.YearDay()
		return strconv.Itoa(d/100) + strconv.Itoa(d%100/10) + strconv.Itoa(d%10), true, true
	case 'k':
		return spaced(t.Hour()), true, true
	case 'l':
		return spaced(hour12), true, true
	case 'm':
		return two(int(t.Month())), true, true
	case 'M':
		return two(t.Minute()), true, true
	case 'n':
		return "\n", false, true
	case 'p':
		if t.Hour() < 12 {
			return "AM", false, true
		}
		return "PM", false, true
	case 'P':
		if t.Hour() < 12 {
			return "am", false, true
		}
		return "pm", false, true
	case 'r':
		return Strftime("%I:%M:%S %p", t), false, true
	case 'R':
		return Strftime("%H:%M", t), false, true
	case 's':
		return strconv.FormatInt(t.Unix(), 10), true, true
	case 'S':
		return two(t.Second()), true, true
	case 't':
		return "\t", false, true
	case 'T', 'X':
		return Strftime("%H:%M:%S", t), false, true
	case 'u':
		w := int(t.Weekday())
		if w == 0 {
			w = 7
		}
		return strconv.Itoa(w), true, true
	case 'U':
		return two((t.YearDay() + 6 - int(t.Weekday())) / 7), true, true
	case 'V':
		_, w := t.ISOWeek()
		return two(w), true, true
	case 'w':
		return strconv.Itoa(int(t.Weekday())), true, true
	case 'W':
		return two((t.YearDay() + 6 - (int(t.Weekday())+6)%7) / 7), true, true
	case 'y':
		return two(t.Year() % 100), true, true
	case 'Y':
		return strconv.Itoa(t.Year()), true, true
	case 'z':
		return t.Format("-0700"), false, true
	case 'Z':
		return t.Format("MST"), false, true
	case '+':
		return Strftime("%a %b %e %H:%M:%S %Z %Y", t), false, true
	case '%':
		return "%", false, true
	}
	return "", false, false
}
