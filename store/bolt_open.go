package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// OpenBolt opens the store file at path, creating it if it does not exist
// (its directory must). It returns an error that says what to do when:
//   - the directory is missing, not writable or not a directory, or path is
//     a directory (the error wraps the OS error, so errors.Is(err,
//     fs.ErrPermission) and the like work);
//   - another process holds the file for longer than opts.LockTimeout
//     (wraps ErrInUse);
//   - the file is damaged, not a midge store (Mosquitto's mosquitto.db is
//     recognized and named), or was written by a newer midge (wraps
//     ErrCorrupt). The file is left as it is; MoveAside moves
//     it out of the way.
//
// A file of an older format (FormatVersion 1) is upgraded in place, in one
// transaction, before OpenBolt returns: a crash during the upgrade leaves
// the old file, which the next OpenBolt upgrades again.
func OpenBolt(path string, opts BoltOptions) (*Bolt, error) {
	opts = opts.withDefaults()
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		if isMosquittoFile(path) {
			return nil, &corruptError{path: path, kind: mosquitto}
		}
		// Check an existing file read-only first: bbolt may write to a
		// file as it opens it for writing, and a file midge refuses must
		// be left as it is.
		db, err := openDB(path, opts, true)
		if err != nil {
			return nil, err
		}
		ro := &Bolt{path: path, db: db}
		_, err = ro.check()
		_ = ro.Close()
		if err != nil {
			return nil, err
		}
	}
	db, err := openDB(path, opts, false)
	if err != nil {
		return nil, err
	}
	s := &Bolt{path: path, db: db}
	version, err := s.check()
	switch {
	case err != nil:
	case version == 0:
		// A new store has no log: one left beside a deleted file belongs
		// to that file.
		if rerr := os.Remove(path + WALSuffix); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = fmt.Errorf("store: %w", rerr)
			break
		}
		err = s.create(opts)
	case version < FormatVersion:
		err = s.upgrade()
	}
	if err == nil {
		err = s.openWAL(opts)
	}
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// openWAL opens the write-ahead log and applies the records a crash left
// in it, in one transaction, before the store is used.
func (s *Bolt) openWAL(opts BoltOptions) error {
	w, err := openWAL(s.path, opts.FileMode)
	if err != nil {
		return err
	}
	var applied uint64
	if err := s.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyWALApplied); v != nil {
			if len(v) != 8 {
				return s.damaged(fmt.Errorf("%w: %s %x", errRecord, keyWALApplied, v))
			}
			applied = binary.BigEndian.Uint64(v)
		}
		return nil
	}); err != nil {
		w.close()
		return err
	}
	var replay []*preparedBatch
	last, err := w.replay(applied, func(seq uint64, payload []byte) error {
		pb := s.batch.get()
		if err := pb.decodeFrom(payload); err != nil {
			return &corruptError{path: s.path + WALSuffix, kind: damaged, detail: fmt.Sprintf("record %d: %v", seq, err)}
		}
		replay = append(replay, pb)
		return nil
	})
	if err != nil {
		w.close()
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.wal, s.walSeq, s.pending = w, last, replay
	return s.checkpointLocked()
}

// mosquittoMagic starts Mosquitto's persistence file (mosquitto.db), which
// a mosquitto.conf used as it is points midge at.
var mosquittoMagic = []byte("\x00\xb5\x00mosquitto db")

// isMosquittoFile reports whether the file at path is Mosquitto's.
func isMosquittoFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, len(mosquittoMagic))
	_, err = io.ReadFull(f, b)
	return err == nil && bytes.Equal(b, mosquittoMagic)
}

// checkPath gives a clear error for the usual mistakes with the location.
func checkPath(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return locationErr(dir, false, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("store: persistence_location %s: %w: it must be a directory", dir, syscall.ENOTDIR)
	}
	fi, err = os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("store: %s: %w: the store is a file in persistence_location, named by persistence_file",
			path, syscall.EISDIR)
	case err == nil && !fi.Mode().IsRegular():
		return fmt.Errorf("store: %s is not a regular file", path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return locationErr(path, true, err)
	}
	return nil
}

// locationErr describes err, from stat or open of the store's directory
// (file false) or file, with a hint.
func locationErr(name string, file bool, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	hint := ""
	switch {
	case errors.Is(err, fs.ErrNotExist):
		hint = ": create the directory, or set persistence_location to one that exists"
	case errors.Is(err, syscall.EROFS):
		hint = ": the file system is mounted read-only; set persistence_location to a writable one"
	case errors.Is(err, fs.ErrPermission):
		hint = fmt.Sprintf(": let the user midge runs as (uid %d) read and write it, or set persistence_location elsewhere",
			os.Getuid())
	}
	if file {
		return fmt.Errorf("store %s: %w%s", name, err, hint)
	}
	return fmt.Errorf("store: persistence_location %s: %w%s", name, err, hint)
}

// openDB opens the bbolt file. bbolt may panic on a damaged file; that
// becomes an error, and the lock taken before the panic is released (the
// file stays mapped, and so its lock held, until the process ends
// otherwise).
func openDB(path string, opts BoltOptions, readOnly bool) (db *bolt.DB, err error) {
	var files []*os.File
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			for _, f := range files {
				unlock(f)
				_ = f.Close()
			}
			db, err = nil, &corruptError{path: path, kind: damaged, detail: fmt.Sprint(r)}
		}
	}()
	db, err = bolt.Open(path, opts.FileMode, &bolt.Options{
		Timeout:      opts.LockTimeout,
		ReadOnly:     readOnly,
		FreelistType: bolt.FreelistMapType,
		// The freelist is written with every transaction (the default).
		// Without it bbolt rebuilds the freelist at open by walking the
		// file in a goroutine that panics, killing the process, if a
		// page is damaged.
		NoFreelistSync: false,
		OpenFile: func(name string, flag int, mode os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, mode)
			if err == nil {
				files = append(files, f)
			}
			return f, err
		},
	})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("store %s is in use by another process (is another midge running with the same persistence_location?): stop it, or set persistence_location elsewhere: %w",
			path, ErrInUse)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
		errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrInvalidMapping):
		return nil, &corruptError{path: path, kind: damaged, err: err}
	case errors.Is(err, fs.ErrPermission), errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.EROFS):
		return nil, locationErr(path, true, err)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	// Other errors come from reading the file's first pages.
	return nil, &corruptError{path: path, kind: damaged, err: err}
}

// check checks the layout and format version of the store file, and
// returns the version, 0 for a new, empty bbolt file.
func (s *Bolt) check() (version int, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			var names []string
			_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
				names = append(names, strconv.Quote(string(name)))
				return nil
			})
			if len(names) > 0 {
				return &corruptError{path: s.path, kind: foreign,
					detail: "it is a bbolt file with buckets " + strings.Join(names, ", ")}
			}
			return nil
		}
		v := meta.Get(keyFormat)
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 {
			return &corruptError{path: s.path, kind: damaged, detail: fmt.Sprintf("format version %q", v)}
		}
		if n > FormatVersion {
			return &corruptError{path: s.path, kind: newer, detail: fmt.Sprintf(
				"store format %d, created by %q; this midge reads format %d", n, meta.Get(keyCreatedBy), FormatVersion)}
		}
		need := dataBuckets
		if n == 1 {
			need = dataBucketsV1
		}
		for _, name := range need {
			if tx.Bucket(name) == nil {
				return &corruptError{path: s.path, kind: damaged, detail: fmt.Sprintf("bucket %q missing", name)}
			}
		}
		version = n
		return nil
	})
	return version, err
}

// create lays out a new store in an empty bbolt file.
func (s *Bolt) create(opts BoltOptions) error {
	return s.update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if err := meta.Put(keyFormat, []byte(strconv.Itoa(FormatVersion))); err != nil {
			return err
		}
		if err := meta.Put(keyCreatedBy, []byte(opts.CreatedBy)); err != nil {
			return err
		}
		for _, name := range dataBuckets {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		return nil
	})
}
