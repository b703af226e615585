package store

import (
	"errors"
	"fmt"
)

// ErrCorrupt is wrapped by the errors OpenBolt, Load and LoadQueue return
// when the store file cannot be used as it is: it is damaged, it is not a
// midge store (such as Mosquitto's mosquitto.db), or a newer midge wrote it. The file is never changed or
// removed because of it: the operator decides, and MoveAside (what
// `midge broker --recover` runs) moves the file out of the way so that the
// next start begins with an empty store.
var ErrCorrupt = errors.New("store: corrupt")

// ErrInUse is wrapped by the error OpenBolt returns when another process
// holds the store file's lock, usually another midge with the same
// persistence location.
var ErrInUse = errors.New("store: in use by another process")

// problem is what is wrong with a store file.
type problem byte

const (
	damaged   problem = iota // the file is damaged
	foreign                  // the file is not a midge store
	newer                    // a newer midge wrote the file
	mosquitto                // the file is Mosquitto's persistence file
	missing                  // the store file is missing beside its write-ahead log
)

// corruptError says what is wrong with the store at path and what the
// operator can do about it. It wraps ErrCorrupt and its cause.
type corruptError struct {
	path   string // the file at fault: the store file or its write-ahead log
	store  string // the store file, if not path
	kind   problem
	detail string
	err    error // cause; may be nil
}

func (e *corruptError) Error() string {
	var what string
	switch e.kind {
	case damaged:
		what = fmt.Sprintf("store %s is corrupt", e.path)
	case foreign:
		what = fmt.Sprintf("%s is not a midge store", e.path)
	case newer:
		what = fmt.Sprintf("store %s was written by a newer midge", e.path)
	case mosquitto:
		what = fmt.Sprintf("%s is a Mosquitto persistence file, which midge does not read", e.path)
	case missing:
		what = fmt.Sprintf("store %s is missing, but its write-ahead log %s is there: the store file was deleted or moved without its log",
			e.path, e.path+WALSuffix)
	}
	if e.detail != "" {
		what += " (" + e.detail + ")"
	}
	if e.err != nil {
		what += ": " + e.err.Error()
	}
	store := e.path
	if e.store != "" {
		store = e.store
	}
	hint := "; the file has been left as it is: to start with an empty store, move it aside " +
		"(midge broker --recover renames it to " + e.path + ".corrupt-<time>)"
	switch {
	case e.kind == missing:
		hint = "; put the store file back, or move the log aside to start with an empty store " +
			"(midge broker --recover renames it to " + store + ".corrupt-<time>" + WALSuffix + ")"
	case store != e.path:
		hint = "; the files have been left as they are: to start with an empty store, move them aside " +
			"(midge broker --recover renames them to " + store + ".corrupt-<time> and " + store + ".corrupt-<time>" + WALSuffix + ")"
	}
	switch e.kind {
	case newer:
		hint = "; run that version of midge, or move the file aside " +
			"(midge broker --recover renames it to " + e.path + ".corrupt-<time>) to start with an empty store"
	case mosquitto:
		hint = "; the file has been left as it is: set persistence_file to another name, such as midge.db, " +
			"or move it aside (midge broker --recover renames it to " + e.path + ".corrupt-<time>)"
	}
	return what + hint
}

func (e *corruptError) Unwrap() []error {
	if e.err == nil {
		return []error{ErrCorrupt}
	}
	return []error{ErrCorrupt, e.err}
}
