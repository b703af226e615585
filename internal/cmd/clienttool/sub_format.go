package clienttool

// How mosquitto_sub and mosquitto_rr 2.0.11 print a message: payload only,
// -v, or -F with its %, @ and \ sequences (sub_client_output.c), byte for
// byte, bugs included (they are what scripts see).

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/midge-mqtt/midge/internal/cjson"
	"github.com/midge-mqtt/midge/internal/logging"
	"github.com/midge-mqtt/midge/packet"
)

// checkFormat checks a -F format as check_format does and returns the
// refusal Mosquitto prints for a bad one.
func checkFormat(s string) error {
	incomplete := hintf("Error: Incomplete format specifier.\n")
	n := len(s)
	i := 0
	// step moves on to s[i+1]; it reports false if that is the last byte,
	// which a specifier cannot end with.
	step := func() bool {
		i++
		return i != n-1
	}
	// digits steps over the digits after s[i], the width or precision.
	digits := func() bool {
		for s[i+1] >= '0' && s[i+1] <= '9' {
			if !step() {
				return false
			}
		}
		return true
	}
	for ; i < n; i++ {
		switch s[i] {
		case '%':
			if i == n-1 ||
				(s[i+1] == '0' || s[i+1] == '-') && !step() ||
				!digits() ||
				s[i+1] == '.' && (!step() || !digits()) {
				return incomplete
			}
			switch s[i+1] {
			case '%', 'A', 'C', 'D', 'E', 'F', 'I', 'l', 'm', 'P', 'p', 'q', 'R', 'S', 'r', 't', 'j', 'J', 'U', 'x', 'X':
			default:
				return hintf("Error: Invalid format specifier '%c'.\n", s[i+1])
			}
			i++
		case '@':
			if i == n-1 {
				return incomplete
			}
			i++
		case '\\':
			if i == n-1 {
				return hintf("Error: Incomplete escape specifier.\n")
			}
			switch s[i+1] {
			case '\\', '0', 'a', 'e', 'n', 'r', 't', 'v':
			default:
				return hintf("Error: Invalid escape specifier '%c'.\n", s[i+1])
			}
			i++
		}
	}
	return nil
}

// outMessage is a received message as the output needs it.
type outMessage struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
	mid     uint16
	props   packet.Properties
	// order is the order of the properties on the wire (one entry per User
	// Property and Subscription Identifier); nil if unknown, and then the
	// order of their identifiers is used.
	order []packet.PropertyID
}

// printer formats messages for sub and rr.
type printer struct {
	format  *string
	verbose bool
	eol     bool
	pretty  bool
	quiet   bool
	random  int // --random-filter, per 10000
	rand    func() int64
	now     func() time.Time
}

func newPrinter(c *clientConfig) *printer {
	return &printer{format: c.format, verbose: c.verbose, eol: c.eol, pretty: c.pretty,
		quiet: c.quiet, random: c.randomFilter, now: time.Now}
}

// print appends the output for m to out (print_message); errors (an
// invalid JSON payload for %J) go to errw unless --quiet.
func (p *printer) print(out *bytes.Buffer, errw io.Writer, m *outMessage) {
	if p.random < 10000 && p.rand != nil && p.rand()%10000 >= int64(p.random) {
		return
	}
	switch {
	case p.format != nil:
		p.formatted(out, errw, m)
	case p.verbose:
		if len(m.payload) > 0 {
			out.WriteString(cString(m.topic))
			out.WriteByte(' ')
			out.Write(m.payload)
			if p.eol {
				out.WriteByte('\n')
			}
		} else if p.eol {
			out.WriteString(cString(m.topic))
			out.WriteString(" (null)\n")
		}
	default:
		if len(m.payload) > 0 {
			out.Write(m.payload)
			if p.eol {
				out.WriteByte('\n')
			}
		}
	}
}

// fieldOpts are the flags, width and precision of one % sequence.
type fieldOpts struct {
	align     byte // '-' or 0
	pad       byte // ' ' or '0'
	width     int
	precision int // -1: none
}

// formatted is formatted_print.
func (p *printer) formatted(out *bytes.Buffer, errw io.Writer, m *outMessage) {
	f := *p.format
	n := len(f)
	now := p.now()
	for i := 0; i < n; i++ {
		switch f[i] {
		case '%':
			o := fieldOpts{pad: ' ', precision: -1}
			if i < n-1 {
				i++
				if f[i] == '-' {
					o.align = '-'
					if i < n-1 {
						i++
					}
				}
				if f[i] == '0' {
					o.pad = '0'
					if i < n-1 {
						i++
					}
				}
				for i < n-1 && f[i] >= '0' && f[i] <= '9' {
					o.width = o.width*10 + int(f[i]-'0')
					i++
				}
				if f[i] == '.' && i < n-1 {
					i++
					o.precision = 0
					for i < n-1 && f[i] >= '0' && f[i] <= '9' {
						o.precision = o.precision*10 + int(f[i]-'0')
						i++
					}
				}
				if i < n {
					p.percent(out, errw, m, f[i], o, now)
				}
			}
		case '@':
			if i < n-1 {
				i++
				switch f[i] {
				case '@':
					out.WriteByte('@')
				case 'N':
					fmt.Fprintf(out, "%09d", now.Nanosecond())
				default:
					out.WriteString(logging.Strftime("%"+string(f[i]), now))
				}
			}
		case '\\':
			if i < n-1 {
				i++
				switch f[i] {
				case '\\':
					out.WriteByte('\\')
				case '0':
					out.WriteByte(0)
				case 'a':
					out.WriteByte('\a')
				case 'e':
					out.WriteByte('\033')
				case 'n':
					out.WriteByte('\n')
				case 'r':
					out.WriteByte('\r')
				case 't':
					out.WriteByte('\t')
				case 'v':
					out.WriteByte('\v')
				}
			}
		default:
			out.WriteByte(f[i])
		}
	}
	if p.eol {
		out.WriteByte('\n')
	}
}

// percent is formatted_print_percent.
func (p *printer) percent(out *bytes.Buffer, errw io.Writer, m *outMessage, c byte, o fieldOpts, now time.Time) {
	props := &m.props
	// intProp prints an integer property the message has, or a blank field.
	intProp := func(has bool, v int64) {
		if has {
			printInt(out, v, o)
		} else {
			printBlank(out, o.pad, o.width)
		}
	}
	switch c {
	case '%':
		out.WriteByte('%')
	case 'A':
		intProp(props.Has(packet.PropTopicAlias), int64(props.TopicAlias))
	case 'C':
		if props.Has(packet.PropContentType) {
			printStr(out, props.ContentType, o)
		} else {
			printBlank(out, ' ', o.width)
		}
	case 'D':
		if props.Has(packet.PropCorrelationData) {
			out.Write(props.CorrelationData)
		}
	case 'E':
		intProp(props.Has(packet.PropMessageExpiry), int64(int32(props.MessageExpiry)))
	case 'F':
		intProp(props.Has(packet.PropPayloadFormat), int64(props.PayloadFormat))
	case 'I':
		printStr(out, logging.Strftime("%FT%T%z", now), o)
	case 'j', 'J':
		s, ok := p.json(m, now, c == 'j')
		if !ok {
			if !p.quiet {
				fmt.Fprintf(errw, "Error: Message payload is not valid JSON on topic %s.\n", cString(m.topic))
			}
			return
		}
		out.WriteString(s)
	case 'l':
		printInt(out, int64(len(m.payload)), o)
	case 'm':
		printInt(out, int64(m.mid), o)
	case 'P':
		for i, u := range props.User {
			if i > 0 {
				out.WriteByte(' ')
			}
			out.WriteString(cString(u.Key))
			out.WriteByte(':')
			out.WriteString(cString(u.Value))
		}
	case 'p':
		writePayload(out, m.payload, 0, o)
	case 'q':
		out.WriteByte(m.qos + '0')
	case 'R':
		if props.Has(packet.PropResponseTopic) {
			printStr(out, props.ResponseTopic, o)
		}
	case 'r':
		if m.retain {
			out.WriteByte('1')
		} else {
			out.WriteByte('0')
		}
	case 'S':
		var id int64
		if len(props.SubscriptionIDs) > 0 {
			id = int64(int32(props.SubscriptionIDs[0]))
		}
		intProp(len(props.SubscriptionIDs) > 0, id)
	case 't':
		printStr(out, m.topic, o)
	case 'U':
		fmt.Fprintf(out, "%d.%09d", now.Unix(), now.Nanosecond())
	case 'x':
		writePayload(out, m.payload, 1, o)
	case 'X':
		writePayload(out, m.payload, 2, o)
	}
}

// printBlank is formatted_print_blank: width pad characters.
func printBlank(out *bytes.Buffer, pad byte, width int) {
	for range width {
		out.WriteByte(pad)
	}
}

// printInt is formatted_print_int.
func printInt(out *bytes.Buffer, v int64, o fieldOpts) {
	switch {
	case o.width == 0:
		fmt.Fprintf(out, "%d", v)
	case o.align == '-':
		fmt.Fprintf(out, "%-*d", o.width, v)
	case o.pad == '0':
		fmt.Fprintf(out, "%0*d", o.width, v)
	default:
		fmt.Fprintf(out, "%*d", o.width, v)
	}
}

// printStr is formatted_print_str: printf's %s with width and precision,
// which count bytes.
func printStr(out *bytes.Buffer, s string, o fieldOpts) {
	s = cString(s)
	if o.precision >= 0 && len(s) > o.precision {
		s = s[:o.precision]
	}
	pad := o.width - len(s)
	if o.align != '-' {
		printBlank(out, ' ', pad)
	}
	out.WriteString(s)
	if o.align == '-' {
		printBlank(out, ' ', pad)
	}
}

// writePayload is write_payload, whose width handling of hex output is
// odd: a field narrower than the payload cuts the payload to width bytes,
// and hex output then prints half of those.
func writePayload(out *bytes.Buffer, payload []byte, hex int, o fieldOpts) {
	n := len(payload)
	var padlen int
	if o.width > 0 {
		if n > o.width {
			n = o.width
		}
		if hex > 0 {
			n /= 2
			padlen = o.width - n*2
		} else {
			padlen = o.width - n
		}
	} else {
		padlen = o.width - n
	}
	if o.align != '-' {
		printBlank(out, o.pad, padlen)
	}
	switch hex {
	case 0:
		out.Write(payload[:n])
	case 1:
		for _, b := range payload[:n] {
			fmt.Fprintf(out, "%02x", b)
		}
	default:
		for _, b := range payload[:n] {
			fmt.Fprintf(out, "%02X", b)
		}
	}
	if o.align == '-' {
		// printf("%*s", padlen, ""): a negative width pads too.
		if padlen < 0 {
			padlen = -padlen
		}
		printBlank(out, ' ', padlen)
	}
}

// cString returns s up to its first NUL, as C sees a string.
func cString(s string) string {
	if i := bytes.IndexByte([]byte(s), 0); i >= 0 {
		return s[:i]
	}
	return s
}

// json builds the %j (escaped) or %J output for m, as json_print does with
// cJSON. ok is false if %J's payload is not JSON.
func (p *printer) json(m *outMessage, now time.Time, escaped bool) (string, bool) {
	root := &jsonValue{kind: jsonObject}
	root.add("tst", jsonStr(jsonTime(now)))
	root.add("topic", jsonStr(m.topic))
	root.add("qos", jsonNum(float64(m.qos)))
	root.add("retain", jsonNum(boolNum(m.retain)))
	root.add("payloadlen", jsonNum(float64(len(m.payload))))
	if m.qos > 0 {
		root.add("mid", jsonNum(float64(m.mid)))
	}
	if !m.props.Empty() {
		root.add("properties", jsonProperties(&m.props, m.order))
	}
	switch {
	case len(m.payload) == 0:
		root.add("payload", &jsonValue{kind: jsonNull})
	case escaped:
		root.add("payload", jsonStr(string(m.payload)))
	default:
		v, ok := parseCJSON(m.payload)
		if !ok {
			return "", false
		}
		root.add("payload", v)
	}
	var b bytes.Buffer
	root.print(&b, p.pretty, 0)
	return b.String(), true
}

// jsonTime is the "tst" of %j: local time with microseconds, then 'Z' and
// the zone offset, as Mosquitto 2.0.11 writes it.
func jsonTime(t time.Time) string {
	return logging.Strftime("%Y-%m-%dT%H:%M:%S", t) + fmt.Sprintf(".%06dZ", t.Nanosecond()/1000) + logging.Strftime("%z", t)
}

func boolNum(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// jsonProperties is json_print_properties: the PUBLISH properties in wire
// order, User Properties gathered in one object where the first appears.
func jsonProperties(ps *packet.Properties, order []packet.PropertyID) *jsonValue {
	if order == nil {
		order = canonicalOrder(ps)
	}
	obj := &jsonValue{kind: jsonObject}
	var users *jsonValue
	nUser, nSub := 0, 0
	for _, id := range order {
		switch id {
		case packet.PropPayloadFormat:
			obj.add("payload-format-indicator", jsonNum(float64(ps.PayloadFormat)))
		case packet.PropMessageExpiry:
			obj.add("message-expiry-interval", jsonNum(float64(ps.MessageExpiry)))
		case packet.PropContentType:
			obj.add("content-type", jsonStr(ps.ContentType))
		case packet.PropResponseTopic:
			obj.add("response-topic", jsonStr(ps.ResponseTopic))
		case packet.PropCorrelationData:
			obj.add("correlation-data", jsonStr(string(ps.CorrelationData)))
		case packet.PropSubscriptionID:
			if nSub < len(ps.SubscriptionIDs) {
				obj.add("subscription-identifier", jsonNum(float64(ps.SubscriptionIDs[nSub])))
				nSub++
			}
		case packet.PropTopicAlias:
			obj.add("topic-alias", jsonNum(float64(ps.TopicAlias)))
		case packet.PropUser:
			if nUser < len(ps.User) {
				if users == nil {
					users = &jsonValue{kind: jsonObject}
					obj.add("user-properties", users)
				}
				users.add(ps.User[nUser].Key, jsonStr(ps.User[nUser].Value))
				nUser++
			}
		}
	}
	return obj
}

// canonicalOrder lists the properties present in ps by identifier, when
// their order on the wire is not known.
func canonicalOrder(ps *packet.Properties) []packet.PropertyID {
	var order []packet.PropertyID
	for _, id := range []packet.PropertyID{packet.PropPayloadFormat, packet.PropMessageExpiry,
		packet.PropContentType, packet.PropResponseTopic, packet.PropCorrelationData} {
		if ps.Has(id) {
			order = append(order, id)
		}
	}
	for range ps.SubscriptionIDs {
		order = append(order, packet.PropSubscriptionID)
	}
	if ps.Has(packet.PropTopicAlias) {
		order = append(order, packet.PropTopicAlias)
	}
	for range ps.User {
		order = append(order, packet.PropUser)
	}
	return order
}

// jsonKind is the type of a cJSON item.
type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonFalse
	jsonTrue
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

// jsonValue is a cJSON item: objects keep their keys in order, duplicates
// included, as cJSON does.
type jsonValue struct {
	kind  jsonKind
	num   float64
	str   string
	keys  []string
	items []*jsonValue
}

func jsonStr(s string) *jsonValue  { return &jsonValue{kind: jsonString, str: s} }
func jsonNum(f float64) *jsonValue { return &jsonValue{kind: jsonNumber, num: f} }
func (v *jsonValue) add(k string, item *jsonValue) {
	v.keys = append(v.keys, k)
	v.items = append(v.items, item)
}

// print writes v as cJSON_Print (pretty) or cJSON_PrintUnformatted does;
// depth is the nesting of v.
func (v *jsonValue) print(b *bytes.Buffer, pretty bool, depth int) {
	switch v.kind {
	case jsonNull:
		b.WriteString("null")
	case jsonFalse:
		b.WriteString("false")
	case jsonTrue:
		b.WriteString("true")
	case jsonNumber:
		b.WriteString(cJSONNumber(v.num))
	case jsonString:
		cjson.Quote(b, cString(v.str)) // print_string_ptr stops at a NUL
	case jsonArray:
		b.WriteByte('[')
		for i, it := range v.items {
			it.print(b, pretty, depth+1)
			if i < len(v.items)-1 {
				b.WriteByte(',')
				if pretty {
					b.WriteByte(' ')
				}
			}
		}
		b.WriteByte(']')
	case jsonObject:
		b.WriteByte('{')
		if pretty {
			b.WriteByte('\n')
		}
		for i, it := range v.items {
			if pretty {
				printBlank(b, '\t', depth+1)
			}
			cjson.Quote(b, cString(v.keys[i]))
			b.WriteByte(':')
			if pretty {
				b.WriteByte('\t')
			}
			it.print(b, pretty, depth+1)
			if i < len(v.items)-1 {
				b.WriteByte(',')
			}
			if pretty {
				b.WriteByte('\n')
			}
		}
		if pretty {
			printBlank(b, '\t', depth)
		}
		b.WriteByte('}')
	}
}

// cJSONNumber formats a number as cJSON 1.7.15 does: %1.15g, or %1.17g if
// that does not read back as the same double; null for NaN and infinity.
func cJSONNumber(d float64) string {
	if d*0 != 0 {
		return "null"
	}
	s := strconv.FormatFloat(d, 'g', 15, 64)
	if t, err := strconv.ParseFloat(s, 64); err != nil || !cJSONEqual(t, d) {
		s = strconv.FormatFloat(d, 'g', 17, 64)
	}
	return s // Go's 'g' is C's %g: trailing zeros dropped, two-digit exponent
}

func cJSONEqual(a, b float64) bool {
	maxVal := max(abs(a), abs(b))
	return abs(a-b) <= maxVal*2.220446049250313e-16
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
