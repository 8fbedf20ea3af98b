package sink

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Directory writes each version of a draft as files in a directory: one
// per format, named by incident and version (FileName). A file is written
// to a temporary name, synced, and then linked into place, which fails
// rather than replace a file that exists: a version already there, maybe
// edited by a person since, is left alone, and a later export is a new
// version with a new name. A reader never sees half a file.
type Directory struct {
	dir string
}

var _ Sink = (*Directory)(nil)

// NewDirectory returns a sink writing into dir, which is created when
// missing.
func NewDirectory(dir string) *Directory { return &Directory{dir: dir} }

// Name implements Sink.
func (d *Directory) Name() string { return "directory " + d.dir }

// Type implements Sink.
func (d *Directory) Type() string { return "directory" }

// Deliver implements Sink.
func (d *Directory) Deliver(ctx context.Context, dl Delivery) (string, error) {
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return "", fmt.Errorf("%s: %w", d.Name(), err)
	}
	var wrote, kept []string
	for _, f := range dl.Files {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		target := filepath.Join(d.dir, f.Name)
		ok, err := writeNew(d.dir, target, f.Body)
		if err != nil {
			return "", fmt.Errorf("%s: write %s: %w", d.Name(), f.Name, err)
		}
		if ok {
			wrote = append(wrote, f.Name)
		} else {
			kept = append(kept, f.Name)
		}
	}
	if err := syncDir(d.dir); err != nil {
		return "", fmt.Errorf("%s: %w", d.Name(), err)
	}
	loc := strings.Join(wrote, ", ")
	if len(kept) > 0 {
		// This version was delivered before (an export recorded as failed
		// after the write, say); whatever is there now may be a person's
		// edit, so it stays.
		loc = strings.TrimPrefix(loc+"; already there, left as it is: "+strings.Join(kept, ", "), "; ")
	}
	return loc, nil
}

// writeNew writes body to target unless target exists, atomically: a
// temporary file in the same directory, synced, then hard-linked to
// target (link fails on an existing name, where rename would replace it).
// It reports whether it wrote.
func writeNew(dir, target string, body []byte) (bool, error) {
	if _, err := os.Lstat(target); err == nil {
		return false, nil
	}
	tmp, err := os.CreateTemp(dir, ".hindsight-*.tmp")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(body); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	if err := os.Link(tmp.Name(), target); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// checkDirectory reports why dir cannot hold drafts: it is not a
// directory, or neither it nor (when missing) the nearest directory above
// it can be written by this process. It writes nothing.
func checkDirectory(dir string) error {
	if dir == "" {
		return errors.New("empty path")
	}
	p := filepath.Clean(dir)
	for {
		fi, err := os.Stat(p)
		switch {
		case err == nil && !fi.IsDir():
			if p == filepath.Clean(dir) {
				return fmt.Errorf("%q is not a directory", dir)
			}
			return fmt.Errorf("directory %q cannot be created: %q is not a directory", dir, p)
		case err == nil:
			if err := unix.Access(p, unix.W_OK|unix.X_OK); err != nil {
				if p == filepath.Clean(dir) {
					return fmt.Errorf("directory %q is not writable: %v", dir, err)
				}
				return fmt.Errorf("directory %q cannot be created: %q is not writable: %v", dir, p, err)
			}
			return nil
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR):
			parent := filepath.Dir(p)
			if parent == p {
				return fmt.Errorf("directory %q cannot be created", dir)
			}
			p = parent
		default:
			return fmt.Errorf("directory %q: %v", dir, err)
		}
	}
}
