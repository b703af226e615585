package dynsec

import (
	"bytes"
	"encoding/json"
	"math"

	"github.com/midge-mqtt/midge/internal/cjson"
)

// obj is a JSON object as cJSON presents it to Mosquitto: keys are looked
// up without regard to case (cJSON_GetObjectItem).
type obj map[string]any

// get returns the value of key, matched without regard to case; ok false
// if absent.
func (o obj) get(key string) (any, bool) { return cjson.Item(o, key) }

// str returns a string member: present reports whether the key is there,
// ok whether it is a string.
func (o obj) str(key string) (s string, present, ok bool) {
	v, present := o.get(key)
	if !present {
		return "", false, true
	}
	s, ok = v.(string)
	return s, true, ok
}

// boolean returns a boolean member, def if absent; ok false if present but
// not a boolean.
func (o obj) boolean(key string, def bool) (bool, bool) {
	v, present := o.get(key)
	if !present {
		return def, true
	}
	b, ok := v.(bool)
	return b, ok
}

// integer returns a number member as cJSON's valueint has it (truncated,
// saturated), def if absent; ok false if present but not a number.
func (o obj) integer(key string, def int) (int, bool) {
	v, present := o.get(key)
	if !present {
		return def, true
	}
	n, ok := v.(json.Number)
	if !ok {
		return def, false
	}
	f, err := n.Float64()
	if err != nil {
		return def, false
	}
	switch {
	case f >= math.MaxInt32:
		return math.MaxInt32, true
	case f <= math.MinInt32:
		return math.MinInt32, true
	}
	return int(f), true
}

// array returns an array member; present false if absent, ok false if
// not an array.
func (o obj) array(key string) (a []any, present, ok bool) {
	v, present := o.get(key)
	if !present {
		return nil, false, true
	}
	a, ok = v.([]any)
	return a, true, ok
}

// objects returns the elements of array member key that are objects,
// passing over the others (none if key is absent or not an array).
func (o obj) objects(key string) []obj {
	list, _, _ := o.array(key)
	return objectsOf(list)
}

// objectsOf returns the elements of list that are objects.
func objectsOf(list []any) []obj {
	var out []obj
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			out = append(out, obj(m))
		}
	}
	return out
}

// object returns an object member.
func (o obj) object(key string) (obj, bool) {
	v, _ := o.get(key)
	m, ok := v.(map[string]any)
	return obj(m), ok
}

// marshal encodes v as cJSON_PrintUnformatted does: no HTML escaping.
func marshal(v any, indent bool) []byte {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if indent {
		e.SetIndent("", "\t")
	}
	if err := e.Encode(v); err != nil {
		// Only values of this package are encoded: they always can be.
		panic("dynsec: " + err.Error())
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
