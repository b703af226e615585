package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/midge-mqtt/midge/internal/mosqdb"
)

// OpenBolt opens the store file at path, creating it and its write-ahead
// log if neither exists (the directory must). It returns an error that says
// what to do when:
//   - the directory is missing, not writable or not a directory, or path is
//     a directory (the error wraps the OS error, so errors.Is(err,
//     fs.ErrPermission) and the like work);
//   - another process holds the file for longer than opts.LockTimeout
//     (wraps ErrInUse);
//   - the file or its log is damaged, missing while the other is there,
//     not a midge store (Mosquitto's mosquitto.db is recognized and
//     named), or was written by a newer midge (wraps ErrCorrupt; see
//     "When the files cannot be used" in the package documentation). The
//     files are left as they are; MoveAside moves them out of the way.
//
// A torn final record of the log, the write a crash interrupted, is
// dropped and reported to opts.Logger. A file of an older format is
// upgraded in place before OpenBolt returns: a crash during the upgrade
// leaves a file the next OpenBolt upgrades again.
func OpenBolt(path string, opts BoltOptions) (*Bolt, error) {
	opts = opts.withDefaults()
	if err := checkPath(path); err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, werr := os.Lstat(path + WALSuffix); werr == nil {
			return nil, &corruptError{path: path, kind: missing}
		}
		if err := createDB(path, opts); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, locationErr(path, true, err)
	case fi.Size() == 0:
		return nil, &corruptError{path: path, kind: damaged,
			detail: "it is empty (0 bytes): midge never leaves an empty store file, so it was cut short or replaced"}
	default:
		if mosqdb.IsMosquittoFile(path) {
			return nil, &corruptError{path: path, kind: mosquitto}
		}
		// Check an existing file read-only first: bbolt may write to a
		// file as it opens it for writing, and a file midge refuses must
		// be left as it is.
		if err := checkFile(path, opts); err != nil {
			return nil, err
		}
	}
	db, err := openDB(path, opts, false)
	if err != nil {
		return nil, err
	}
	s := &Bolt{path: path, db: db}
	version, err := s.check()
	if err == nil && version == 1 {
		if err = s.upgrade(); err == nil {
			version = 2
		}
	}
	if err == nil && version == 2 {
		err = s.upgradeWAL(opts)
	} else if err == nil {
		err = s.openWAL(opts)
	}
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// createDB makes a new store file at path: it is laid out under a
// temporary name and renamed, so that a crash leaves no store file or a
// complete one, and an empty or half-made file is always damage.
func createDB(path string, opts BoltOptions) error {
	tmp := path + ".new"
	_ = os.Remove(tmp) // left by a crash; if it cannot be removed, openDB says why
	db, err := openDB(tmp, opts, false)
	if err != nil {
		return err
	}
	s := &Bolt{path: tmp, db: db}
	err = s.create(opts)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// checkFile checks an existing store file, read-only: its meta pages, its
// layout and version, and, if a meta page is damaged, every page
// (checkPages).
func checkFile(path string, opts BoltOptions) error {
	bad, err := checkMetaPages(path)
	if err != nil {
		return err
	}
	db, err := openDB(path, opts, true)
	if err != nil {
		return err
	}
	ro := &Bolt{path: path, db: db}
	defer ro.Close()
	if _, err := ro.check(); err != nil {
		return err
	}
	if bad < 0 {
		return nil
	}
	// bbolt reads the other meta page, the transaction before: the log
	// must hold what came after it, which openWAL checks. A torn meta page
	// is what a power cut during a checkpoint leaves; a page damaged
	// otherwise may not be alone.
	opts.Logger.Warn(fmt.Sprintf("Warning: store %s: meta page %d is damaged; "+
		"reading the transaction before it, and the write-ahead log's records since.", path, bad))
	return ro.checkPages()
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
			// midge makes a store file whole (createDB): one without
			// its layout was damaged or replaced.
			return &corruptError{path: s.path, kind: damaged, detail: "it has no midge layout: an empty bbolt file"}
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
		id, err := newStoreID()
		if err != nil {
			return err
		}
		if err := meta.Put(keyStoreID, id); err != nil {
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
