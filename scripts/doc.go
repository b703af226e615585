// Package scripts holds no Go code of its own: its tests check the shell
// scripts beside it (scripts/deps, which scripts/test runs to install what
// the test suite needs) with stand-in commands on PATH.
package scripts
