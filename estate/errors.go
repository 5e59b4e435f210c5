package estate

import (
	"errors"
	"strconv"
)

var (
	// ErrNotFound reports that the keep holds no such estate or role. Errors
	// that carry it also match fs.ErrNotExist.
	ErrNotFound = errors.New("estate: not in keep")
	// ErrCorrupt reports a keep file that is not a JSON object: empty,
	// truncated, or not JSON at all.
	ErrCorrupt = errors.New("estate: keep file is not a JSON object")
	// ErrField reports a field of a keep file that is missing, unexpected, of
	// the wrong JSON type, out of range, or (for keys) not valid hex of the
	// right size.
	ErrField = errors.New("estate: bad keep file field")
	// ErrName reports an estate or role name that cannot name a keep file.
	ErrName = errors.New("estate: invalid name for keep file")
	// ErrNoKeys reports a local estate without long-term keys to keep.
	ErrNoKeys = errors.New("estate: local estate has no keys")
	// ErrAutoMode reports an auto accept mode other than never, once or always.
	ErrAutoMode = errors.New("estate: unknown auto mode")
	// ErrUnsupported reports a keep file this package cannot read: Python
	// RAET's msgpack keeps (.msgpack files).
	ErrUnsupported = errors.New("estate: unsupported keep file format")
)

// FileError is an error about one keep file, and one field of it when Field
// is set. Err is one of this package's sentinel errors, possibly wrapping a
// more precise cause.
type FileError struct {
	Path  string // file, "" when the error came from bytes not read from a file
	Field string // JSON key at fault, "" for the file as a whole
	Err   error
}

func (e *FileError) Error() string {
	s := "estate: keep file"
	if e.Path != "" {
		s += " " + strconv.Quote(e.Path)
	}
	if e.Field != "" {
		s += " field " + strconv.Quote(e.Field)
	}
	return s + ": " + e.Err.Error()
}

func (e *FileError) Unwrap() error { return e.Err }

// withPath sets the path of a *FileError inside err, if any.
func withPath(err error, path string) error {
	var fe *FileError
	if errors.As(err, &fe) && fe.Path == "" {
		fe.Path = path
	}
	return err
}
