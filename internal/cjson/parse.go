package cjson

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Trailing says what Parse does with data after the first JSON value.
type Trailing bool

const (
	// AllowTrailing ignores data after the value, as cJSON_Parse does.
	AllowTrailing Trailing = false
	// RejectTrailing makes a value followed by more data (another value,
	// not just white space) a syntax error.
	RejectTrailing Trailing = true
)

// Parse decodes the JSON value at the start of data into maps, slices,
// strings, bools, json.Number (numbers keep their text) and nil.
func Parse(data []byte, trailing Trailing) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if trailing == RejectTrailing && d.More() {
		return nil, &json.SyntaxError{Offset: d.InputOffset()}
	}
	return v, nil
}

// Item is cJSON_GetObjectItem: the member of m named name, matched first
// exactly and then without regard to case; ok is false if there is none.
func Item(m map[string]any, name string) (v any, ok bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}
