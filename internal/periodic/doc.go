// Package periodic runs a function again and again, waiting between runs
// for a time computed afresh each round, so that a changed setting (a
// configuration reload) applies from the next round.
package periodic
