package clienttool

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// fixedTime is when the formatting tests pretend messages arrive.
var fixedTime = time.Date(2021, 6, 9, 13, 4, 5, 123456789, time.FixedZone("", 3600))

func formatted(t *testing.T, format string, m *outMessage, pretty bool) (string, string) {
	t.Helper()
	if err := checkFormat(format); err != nil {
		t.Fatalf("checkFormat(%q): %v", format, err)
	}
	p := &printer{format: &format, eol: true, pretty: pretty, random: 10000, now: func() time.Time { return fixedTime }}
	var out, errw bytes.Buffer
	p.print(&out, &errw, m)
	return out.String(), errw.String()
}

func TestFormat(t *testing.T) {
	t.Parallel()
	m := &outMessage{topic: "a/b", payload: []byte("hello"), qos: 1, retain: true, mid: 7}
	m.props.SetUint(packet.PropMessageExpiry, 30)
	m.props.SetString(packet.PropContentType, "text")
	m.props.User = []packet.UserProperty{{Key: "k", Value: "v"}, {Key: "k", Value: "w"}}
	m.props.SubscriptionIDs = []uint32{3, 4}
	for format, want := range map[string]string{
		"%t %p %q %r %l %m":      "a/b hello 1 1 5 7\n",
		"%x|%X":                  "68656c6c6f|68656C6C6F\n",
		"[%8t][%-8t][%.1t]":      "[     a/b][a/b     ][a]\n",
		"[%4.2t][%-4.2t]":        "[  a/][a/  ]\n",
		"[%08l][%-3m][%03q]":     "[00000005][7  ][1]\n",
		"[%8p][%-8p][%08p]":      "[   hello][hello   ][000hello]\n",
		"[%-p]":                  "[hello     ]\n", // printf("%*s", -5, "") pads too
		"[%3p]":                  "[hel]\n",
		"[%10x][%4x][%3X]":       "[      6865][6865][ 68]\n", // write_payload halves a cut payload
		"[%E][%5E][%05E]":        "[30][   30][00030]\n",
		"[%F][%4F][%04F]":        "[][    ][0000]\n",
		"[%C][%6C][%A][%3A]":     "[text][  text][][   ]\n",
		"[%P][%S][%3S][%R]":      "[k:v k:w][3][  3][]\n",
		"%%@@\\\\\\t\\0":         "%@\\\t\x00\n",
		"@Y-@m-@dT@H:@M:@S@z @N": "2021-06-09T13:04:05+0100 123456789\n",
		"%U %I %.10I":            "1623240245.123456789 2021-06-09T13:04:05+0100 2021-06-09\n",
		"%j": `{"tst":"2021-06-09T13:04:05.123456Z+0100","topic":"a/b","qos":1,"retain":1,"payloadlen":5,"mid":7,` +
			`"properties":{"message-expiry-interval":30,"content-type":"text","subscription-identifier":3,"subscription-identifier":4,` +
			`"user-properties":{"k":"v","k":"w"}},"payload":"hello"}` + "\n",
	} {
		if got, _ := formatted(t, format, m, false); got != want {
			t.Errorf("-F %q:\n got %q\nwant %q", format, got, want)
		}
	}
}

func TestFormatVerbose(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		verbose, eol bool
		payload      string
		want         string
	}{
		{true, true, "x", "t x\n"}, {true, true, "", "t (null)\n"}, {true, false, "", ""}, {true, false, "x", "t x"},
		{false, true, "", ""}, {false, true, "x", "x\n"}, {false, false, "x", "x"},
	} {
		p := &printer{verbose: c.verbose, eol: c.eol, random: 10000}
		var out bytes.Buffer
		p.print(&out, nil, &outMessage{topic: "t", payload: []byte(c.payload)})
		if out.String() != c.want {
			t.Errorf("%+v: %q", c, out.String())
		}
	}
}

func TestJSONPayload(t *testing.T) {
	t.Parallel()
	for payload, want := range map[string]string{
		`{"a": [1, 2.50, true, null, "x\u00e9"], "b":{}}`: `{"a":[1,2.5,true,null,"xé"],"b":{}}`,
		`  "s\/\b\f\n\r\t"  `:                             `"s/\b\f\n\r\t"`,
		`[01, -1.5E+3, 1e-400, 1e400, -0]`:                `[1,-1500,0,null,-0]`,
		`12345678901234567890`:                            `1.2345678901234567e+19`,
		"\xef\xbb\xbf[1]":                                 `[1]`,
		"[\"\x01\"]":                                      `["\u0001"]`,
		`"\ud83d\ude00"`:                                  "\"\U0001F600\"",
		`{"a":1,"a":2}`:                                   `{"a":1,"a":2}`,
	} {
		v, ok := parseCJSON([]byte(payload))
		if !ok {
			t.Errorf("%q not accepted", payload)
			continue
		}
		var b bytes.Buffer
		v.print(&b, false, 0)
		if b.String() != want {
			t.Errorf("%q printed %q, want %q", payload, b.String(), want)
		}
	}
	for _, payload := range []string{"", " ", "x", "[1,]", `{"a"}`, `{1:2}`, `"\ud800"`, `"\udc00"`, `"\x"`, "[1]\x00", `[1] 2`, `-`, `"abc`, `nul`} {
		if _, ok := parseCJSON([]byte(payload)); ok {
			t.Errorf("%q accepted", payload)
		}
	}
	deep := strings.Repeat("[", 1001) + strings.Repeat("]", 1001)
	if _, ok := parseCJSON([]byte(deep)); ok {
		t.Error("nesting beyond cJSON's limit accepted")
	}
}

func TestJSONPretty(t *testing.T) {
	t.Parallel()
	m := &outMessage{topic: "t", payload: []byte(`{"a":[1,{}],"b":{}}`)}
	got, _ := formatted(t, "%J", m, true)
	want := "{\n\t\"tst\":\t\"2021-06-09T13:04:05.123456Z+0100\",\n\t\"topic\":\t\"t\",\n\t\"qos\":\t0,\n\t\"retain\":\t0,\n" +
		"\t\"payloadlen\":\t19,\n\t\"payload\":\t{\n\t\t\"a\":\t[1, {\n\t\t\t}],\n\t\t\"b\":\t{\n\t\t}\n\t}\n}\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	m.payload = []byte("nope")
	got, errs := formatted(t, "%J", m, false)
	if got != "\n" || errs != "Error: Message payload is not valid JSON on topic t.\n" {
		t.Errorf("invalid JSON: %q, %q", got, errs)
	}
}

func TestCheckFormat(t *testing.T) {
	t.Parallel()
	for f, want := range map[string]string{
		"%": "Error: Incomplete format specifier.\n", "%-": "Error: Incomplete format specifier.\n",
		"%10": "Error: Incomplete format specifier.\n", "%.": "Error: Incomplete format specifier.\n",
		"@": "Error: Incomplete format specifier.\n", "\\": "Error: Incomplete escape specifier.\n",
		"%Z": "Error: Invalid format specifier 'Z'.\n", "\\Z": "Error: Invalid escape specifier 'Z'.\n",
		"%0-5p": "Error: Invalid format specifier '-'.\n", "%t %p @Y \\n": "",
	} {
		err := checkFormat(f)
		got := ""
		if err != nil {
			got = err.(*cmdError).text
		}
		if got != want {
			t.Errorf("checkFormat(%q) = %q, want %q", f, got, want)
		}
	}
}

// FuzzFormat checks that no format and payload make the printer panic.
func FuzzFormat(f *testing.F) {
	f.Add("%t %p %j %J %-10.3x @Y \\e", []byte(`{"a":[1]}`))
	f.Add("%05E%-p%10X", []byte{0, 1, 2})
	f.Fuzz(func(t *testing.T, format string, payload []byte) {
		if checkFormat(format) != nil {
			return
		}
		p := &printer{format: &format, eol: true, random: 10000, now: time.Now}
		var out, errw bytes.Buffer
		m := &outMessage{topic: "t", payload: payload, qos: 2, mid: 9}
		m.props.User = []packet.UserProperty{{Key: "a", Value: "b"}}
		p.print(&out, &errw, m)
		p.pretty = true
		p.print(&out, &errw, m)
	})
}

// FuzzCJSON checks that the %J parser never panics and prints what it
// accepts as JSON it accepts again.
func FuzzCJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,"x\u00e9"]}`, `[01]`, `"\ud83d\ude00"`, `nul`, "[1] \x01"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, ok := parseCJSON(b)
		if !ok {
			return
		}
		var out bytes.Buffer
		v.print(&out, false, 0)
		if bytes.IndexByte(out.Bytes(), 0) >= 0 {
			return // strings cut at U+0000 may no longer parse
		}
		if _, ok := parseCJSON(out.Bytes()); !ok {
			t.Errorf("%q printed as %q, which does not parse", b, out.Bytes())
		}
	})
}
