package cjson

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestParseTrailing checks that Parse keeps numbers as their text and that
// data after the value is ignored or rejected as asked.
func TestParseTrailing(t *testing.T) {
	for _, c := range []struct {
		in            string
		allow, reject bool // whether each mode accepts in
	}{
		{`{"a":1.50}`, true, true},
		{" [1, 2] \n\t", true, true},
		{`{"a":1} {"b":2}`, true, false},
		{`[1] 2`, true, false},
		{`{"a":1} x`, true, false},
		{`{"a":`, false, false},
		{``, false, false},
	} {
		for _, m := range []struct {
			mode Trailing
			ok   bool
		}{{AllowTrailing, c.allow}, {RejectTrailing, c.reject}} {
			v, err := Parse([]byte(c.in), m.mode)
			if (err == nil) != m.ok {
				t.Errorf("Parse(%q, %v) = %v, %v; want ok %v", c.in, m.mode, v, err, m.ok)
			}
		}
	}
	v, err := Parse([]byte(`{"n":1.50,"l":[true,null,"s"]}`), RejectTrailing)
	want := map[string]any{"n": json.Number("1.50"), "l": []any{true, nil, "s"}}
	if err != nil || !reflect.DeepEqual(v, want) {
		t.Fatalf("Parse = %#v, %v; want %#v", v, err, want)
	}
}

// TestItem checks cJSON_GetObjectItem's lookup: an exact match first, then
// any member whose name differs only in case.
func TestItem(t *testing.T) {
	m := map[string]any{"Name": 1, "name": 2, "OTHER": 3}
	for _, c := range []struct {
		key  string
		want any
		ok   bool
	}{
		{"name", 2, true},
		{"Name", 1, true},
		{"other", 3, true},
		{"absent", nil, false},
	} {
		if v, ok := Item(m, c.key); v != c.want || ok != c.ok {
			t.Errorf("Item(%q) = %v, %v; want %v, %v", c.key, v, ok, c.want, c.ok)
		}
	}
	if v, ok := Item(nil, "x"); ok || v != nil {
		t.Errorf("Item(nil) = %v, %v", v, ok)
	}
}
