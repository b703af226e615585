package mosqdb

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/midge-mqtt/midge/internal/cjson"
)

// JSON values printed as cJSON_Print prints them, so that --json output is
// byte for byte mosquitto_db_dump's: objects one member a line, indented by
// tabs, with a tab after the colon; arrays on one line, ", " between
// elements; numbers as cJSON formats a double.

// JSONObject is a JSON object whose members keep their order.
type JSONObject []JSONMember

// JSONMember is one member of a JSONObject.
type JSONMember struct {
	Key string
	// Value is a JSONObject, []any, string, or an integer: int64 and
	// uint64 print exactly (Mosquitto's cJSON_AddIntToObject and
	// cJSON_AddUIntToObject), the other integer types as cJSON prints a
	// double (cJSON_AddNumberToObject).
	Value any
}

// Add appends a member.
func (o *JSONObject) Add(key string, v any) { *o = append(*o, JSONMember{key, v}) }

// WriteCJSON writes v as cJSON_Print does, and a newline, as
// mosquitto_db_dump prints it.
func WriteCJSON(w io.Writer, v any) error {
	var b strings.Builder
	printCJSON(&b, v, 0)
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

func printCJSON(b *strings.Builder, v any, depth int) {
	switch x := v.(type) {
	case JSONObject:
		depth++
		b.WriteString("{\n")
		for i, m := range x {
			b.WriteString(strings.Repeat("\t", depth))
			cjson.Quote(b, m.Key)
			b.WriteString(":\t")
			printCJSON(b, m.Value, depth)
			if i < len(x)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(strings.Repeat("\t", depth-1))
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			printCJSON(b, e, depth+1)
			if i < len(x)-1 {
				b.WriteString(", ")
			}
		}
		b.WriteByte(']')
	case string:
		cjson.Quote(b, x)
	case int64: // cJSON_AddIntToObject (Mosquitto's): exact
		b.WriteString(strconv.FormatInt(x, 10))
	case uint64: // cJSON_AddUIntToObject: exact
		b.WriteString(strconv.FormatUint(x, 10))
	case int: // cJSON_AddNumberToObject: a double
		numberCJSON(b, float64(x))
	case uint32:
		numberCJSON(b, float64(x))
	case uint16:
		numberCJSON(b, float64(x))
	case byte:
		numberCJSON(b, float64(x))
	default:
		panic(fmt.Sprintf("mosqdb: no cJSON form for %T", v))
	}
}

// numberCJSON formats d as cJSON's print_number: an integer in int range
// with %d, anything else with %1.15g (or %1.17g when that does not read
// back the same).
func numberCJSON(b *strings.Builder, d float64) {
	if d == math.Trunc(d) && d >= math.MinInt32 && d <= math.MaxInt32 {
		b.WriteString(strconv.Itoa(int(d)))
		return
	}
	s := fmt.Sprintf("%1.15g", d)
	if f, err := strconv.ParseFloat(s, 64); err != nil || f != d {
		s = fmt.Sprintf("%1.17g", d)
	}
	b.WriteString(s)
}
