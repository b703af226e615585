package topic_test

import (
	"fmt"
	"slices"

	"github.com/midge-mqtt/midge/internal/topic"
)

func ExampleMatch() {
	fmt.Println(topic.Match("sport/tennis/+", "sport/tennis/player1"))
	fmt.Println(topic.Match("sport/#", "sport"))
	fmt.Println(topic.Match("#", "$SYS/broker/uptime"))
	// Output:
	// true
	// true
	// false
}

func ExampleParseShared() {
	group, inner, shared, err := topic.ParseShared("$share/consumers/orders/+")
	fmt.Println(group, inner, shared, err)
	_, _, _, err = topic.ParseShared("$share/consumers")
	fmt.Println(err)
	// Output:
	// consumers orders/+ true <nil>
	// topic: malformed shared subscription
}

func ExampleIndex() {
	ix := topic.NewIndex[string]()
	ix.Subscribe("alice", "orders/+", topic.Options{QoS: 1})
	ix.Subscribe("bob", "orders/#", topic.Options{QoS: 2, ID: 7})
	ix.Subscribe("worker1", "$share/billing/orders/+", topic.Options{QoS: 1})
	ix.Subscribe("worker2", "$share/billing/orders/+", topic.Options{QoS: 1})

	var m topic.Matches[string] // reuse it for every PUBLISH
	ix.Match("orders/42", &m)
	var subs []string
	for _, e := range m.Subs {
		subs = append(subs, fmt.Sprintf("%s %s qos%d", e.Sub, e.Filter, e.QoS))
	}
	slices.Sort(subs)
	fmt.Println(subs)
	for _, g := range m.Shared {
		e, _ := g.Next(nil) // one member per group
		fmt.Println(g.Name(), g.Filter(), e.Sub)
	}
	// Output:
	// [alice orders/+ qos1 bob orders/# qos2]
	// billing $share/billing/orders/+ worker1
}

func ExampleGroup_Next() {
	ix := topic.NewIndex[string]()
	for _, w := range []string{"w1", "w2", "w3"} {
		ix.Subscribe(w, "$share/g/jobs", topic.Options{})
	}
	var m topic.Matches[string]
	ix.Match("jobs", &m)
	online := func(s string) bool { return s != "w2" }
	for range 4 {
		e, _ := m.Shared[0].Next(online)
		fmt.Print(e.Sub, " ")
	}
	fmt.Println()
	// Output:
	// w1 w3 w1 w3
}

func ExampleRetained_Match() {
	var r topic.Retained[string]
	r.Set("home/kitchen/temp", "21.5")
	r.Set("home/hall/temp", "19.0")
	r.Set("$SYS/broker/version", "midge")

	var got []string
	r.Match("+/+/temp", func(name, v string) bool {
		got = append(got, name+"="+v)
		return true
	})
	slices.Sort(got)
	fmt.Println(got)
	n := 0
	r.Match("#", func(string, string) bool { n++; return true })
	fmt.Println(n, "retained under #") // not $SYS
	// Output:
	// [home/hall/temp=19.0 home/kitchen/temp=21.5]
	// 2 retained under #
}
