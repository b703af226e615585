package mosqdb_test

import (
	"bytes"
	"testing"

	"github.com/midge-mqtt/midge/internal/mosqdb"
)

// TestWriteCJSON checks the layout of cJSON_Print, which mosquitto_db_dump
// --json prints.
func TestWriteCJSON(t *testing.T) {
	v := mosqdb.JSONObject{
		{Key: "empty", Value: []any{}},
		{Key: "objects", Value: []any{mosqdb.JSONObject{{Key: "a", Value: 1}}, mosqdb.JSONObject{}}},
		{Key: "s", Value: "q\"\\\n\t\x01é/"},
		{Key: "big", Value: 4294967295},
		{Key: "neg", Value: -5},
		{Key: "u64", Value: uint64(18446744073709551615)},
		{Key: "i64", Value: int64(-9007199254740993)},
	}
	want := "{\n" +
		"\t\"empty\":\t[],\n" +
		"\t\"objects\":\t[{\n\t\t\t\"a\":\t1\n\t\t}, {\n\t\t}],\n" +
		"\t\"s\":\t\"q\\\"\\\\\\n\\t\\u0001é/\",\n" +
		"\t\"big\":\t4294967295,\n" +
		"\t\"neg\":\t-5,\n" +
		"\t\"u64\":\t18446744073709551615,\n" +
		"\t\"i64\":\t-9007199254740993\n" +
		"}\n"
	var b bytes.Buffer
	if err := mosqdb.WriteCJSON(&b, v); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
