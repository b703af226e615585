package topic_test

import (
	"math/rand/v2"
	"strings"
)

// levelWords are the literal levels random names and filters are made of:
// few enough that random filters often match random names, with '$' levels
// and empty levels to exercise [MQTT-4.7.2-1] and "a//b".
var levelWords = []string{"a", "b", "c", "", "$SYS", "$x", "dev"}

// randLevels returns 1 to 5 levels joined by '/', level(i, n) making the
// i'th of n.
func randLevels(r *rand.Rand, level func(i, n int) string) string {
	var sb strings.Builder
	n := 1 + r.IntN(5)
	for i := range n {
		if i > 0 {
			sb.WriteByte('/')
		}
		sb.WriteString(level(i, n))
	}
	return sb.String()
}

// randName returns a random valid topic name of 1 to 5 levels.
func randName(r *rand.Rand) string {
	s := randLevels(r, func(int, int) string { return levelWords[r.IntN(len(levelWords))] })
	if s == "" {
		return "a" // "" is the only invalid outcome
	}
	return s
}

// randFilter returns a random valid plain topic filter of 1 to 5 levels.
func randFilter(r *rand.Rand) string {
	s := randLevels(r, func(i, n int) string {
		switch x := r.IntN(100); {
		case i == n-1 && x < 15:
			return "#"
		case x < 35:
			return "+"
		}
		return levelWords[r.IntN(len(levelWords))]
	})
	if s == "" {
		return "#"
	}
	return s
}
