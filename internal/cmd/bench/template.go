package bench

import (
	"fmt"
	"strconv"
	"strings"
)

// A template is a topic, filter or client identifier of midge bench with
// per-client variables:
//
//	%i  the client's number (its index plus -n, the first number)
//	%c  the client identifier (not in a client identifier template)
//	%r  the client's role: pub, sub or conn
//	%%  a percent sign
type template struct {
	src   string
	parts []tmplPart
}

// tmplPart is literal text, or a variable if verb is not 0.
type tmplPart struct {
	lit  string
	verb byte
}

// tmplVars are the values of one client's variables.
type tmplVars struct {
	num  int
	id   string
	role string
}

// parseTemplate parses s; verbs lists the variables allowed besides %%.
func parseTemplate(s, verbs string) (template, error) {
	t := template{src: s}
	var lit strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			lit.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return template{}, fmt.Errorf("template %q ends with a lone %%", s)
		}
		i++
		v := s[i]
		if v == '%' {
			lit.WriteByte('%')
			continue
		}
		if !strings.ContainsRune(verbs, rune(v)) {
			return template{}, fmt.Errorf("template %q: unknown variable %%%c (known: %s)", s, v, verbList(verbs))
		}
		if lit.Len() > 0 {
			t.parts = append(t.parts, tmplPart{lit: lit.String()})
			lit.Reset()
		}
		t.parts = append(t.parts, tmplPart{verb: v})
	}
	if lit.Len() > 0 {
		t.parts = append(t.parts, tmplPart{lit: lit.String()})
	}
	return t, nil
}

func verbList(verbs string) string {
	var b strings.Builder
	for i, v := range verbs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("%" + string(v))
	}
	b.WriteString(", %%")
	return b.String()
}

// varies reports whether the template has a variable, i.e. whether clients
// get different values.
func (t template) varies() bool {
	for _, p := range t.parts {
		if p.verb != 0 {
			return true
		}
	}
	return false
}

// expand returns the template's value for one client.
func (t template) expand(v tmplVars) string {
	if len(t.parts) == 1 && t.parts[0].verb == 0 {
		return t.parts[0].lit
	}
	var b strings.Builder
	for _, p := range t.parts {
		switch p.verb {
		case 0:
			b.WriteString(p.lit)
		case 'i':
			b.WriteString(strconv.Itoa(v.num))
		case 'c':
			b.WriteString(v.id)
		case 'r':
			b.WriteString(v.role)
		}
	}
	return b.String()
}

// wildcardFilter turns a topic template into the filter that matches every
// topic it expands to: each level holding a variable becomes "+". midge
// bench pubsub subscribes to it unless --sub-topic says otherwise, so
// "bench/%i" (fan-in) is received on "bench/+" and a topic without
// variables (fan-out) on itself.
func wildcardFilter(topic string) (string, error) {
	levels := strings.Split(topic, "/")
	for i, l := range levels {
		t, err := parseTemplate(l, "icr")
		if err != nil {
			return "", err
		}
		if t.varies() {
			levels[i] = "+"
		} else {
			levels[i] = t.expand(tmplVars{})
		}
	}
	return strings.Join(levels, "/"), nil
}
