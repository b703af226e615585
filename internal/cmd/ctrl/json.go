package ctrl

// JSON as mosquitto_ctrl writes and reads it with cJSON: objects keep the
// order their members were added in, cJSON_PrintUnformatted and
// cJSON_Print layouts, and member lookup that ignores case
// (cJSON_GetObjectItem).

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/midge-mqtt/midge/internal/cjson"
)

// member is one name and value of an object.
type member struct {
	name  string
	value any // string, bool, int, *object, []any
}

// object is a JSON object whose members stay in order.
type object struct{ members []member }

// add appends a member and returns o.
func (o *object) add(name string, value any) *object {
	o.members = append(o.members, member{name, value})
	return o
}

// compact is cJSON_PrintUnformatted's text of v.
func compact(v any) string {
	var b bytes.Buffer
	write(&b, v, -1)
	return b.String()
}

// pretty is cJSON_Print's text of v: tab indentation, a tab after each
// colon, and arrays of objects run together as "[{" ... "}, {" ... "}]".
func pretty(v any) string {
	var b bytes.Buffer
	write(&b, v, 0)
	return b.String()
}

// write writes v at indentation depth (-1: unformatted).
func write(b *bytes.Buffer, v any, depth int) {
	switch v := v.(type) {
	case *object:
		if len(v.members) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteByte('{')
		if depth >= 0 {
			b.WriteByte('\n')
		}
		for i, m := range v.members {
			if depth >= 0 {
				b.WriteString(strings.Repeat("\t", depth+1))
			}
			cjson.Quote(b, m.name)
			b.WriteByte(':')
			if depth >= 0 {
				b.WriteByte('\t')
				write(b, m.value, depth+1)
			} else {
				write(b, m.value, -1)
			}
			if i < len(v.members)-1 {
				b.WriteByte(',')
			}
			if depth >= 0 {
				b.WriteByte('\n')
			}
		}
		if depth >= 0 {
			b.WriteString(strings.Repeat("\t", depth))
		}
		b.WriteByte('}')
	case []any:
		inner := depth
		if depth >= 0 {
			inner++
		}
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
				if depth >= 0 {
					b.WriteByte(' ')
				}
			}
			write(b, e, inner)
		}
		b.WriteByte(']')
	case string:
		cjson.Quote(b, v)
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int:
		b.WriteString(strconv.Itoa(v))
	case nil:
		b.WriteString("null")
	}
}

// item is cJSON_GetObjectItem: the member of v named name, whatever its
// case, or nil if v is no object or has none.
func item(v any, name string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	x, _ := cjson.Item(m, name)
	return x
}

// getString is json_get_string: the string member name of v.
func getString(v any, name string) (string, bool) {
	s, ok := item(v, name).(string)
	return s, ok
}

// isObject and isArray are cJSON_IsObject and cJSON_IsArray.
func isObject(v any) bool { _, ok := v.(map[string]any); return ok }
func isArray(v any) bool  { _, ok := v.([]any); return ok }

// number returns v's value if it is a number.
func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// valueText is how mosquitto_ctrl prints a JSON value in getClient and
// getGroup: a string as it is, anything else as cJSON prints it.
func valueText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		f, _ := v.Float64()
		if f == math.Trunc(f) && math.Abs(f) < 1<<31 {
			return strconv.Itoa(int(f))
		}
		s := strconv.FormatFloat(f, 'g', 15, 64)
		if g, _ := strconv.ParseFloat(s, 64); g != f {
			s = strconv.FormatFloat(f, 'g', 17, 64)
		}
		return s
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "null"
	}
	out, _ := json.Marshal(v)
	return string(out)
}
