package msgstore

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// maildir is a Maildir spool (the layout of qmail's maildir(5), which
// Dovecot, mutt and Postfix's local(8) share): a message is written
// under tmp/, fsynced, renamed into new/, and new/ is fsynced, so that
// when deliver returns the message survives a crash of the process or of
// the machine.
type maildir struct {
	dir string
}

func openMaildir(dir string) (*maildir, error) {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("msgstore: spool: %w", err)
		}
	}
	return &maildir{dir: dir}, nil
}

var (
	deliveries atomic.Uint64
	hostPart   = maildirHost()
	// pid is read once: os.Getpid is a system call, once per message.
	pid = os.Getpid()
)

// newID makes a Maildir unique name, "<seconds>.M<microseconds>P<pid>Q<n>.<host>"
// (the modern form of maildir(5) that Dovecot writes). It is also the
// message's id in the API, so it stays within [A-Za-z0-9.-].
func newID(t time.Time) string {
	return fmt.Sprintf("%d.M%dP%dQ%d.%s", t.Unix(), t.Nanosecond()/1000, pid, deliveries.Add(1), hostPart)
}

// maildirHost is the host name as a Maildir name part: maildir(5)
// escapes "/" and ":"; the lab keeps letters, digits and "-" only.
func maildirHost() string {
	h, _ := os.Hostname()
	h = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return -1
	}, h)
	if h == "" {
		return "mxlab"
	}
	return h
}

// deliver writes one message and returns its path once it is durable.
func (m *maildir) deliver(id string, raw []byte) (string, error) {
	tmp := filepath.Join(m.dir, "tmp", id)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", fmt.Errorf("msgstore: spool: %w", err)
	}
	_, err = f.Write(raw)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("msgstore: spool: %w", err)
	}
	path := filepath.Join(m.dir, "new", id)
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("msgstore: spool: %w", err)
	}
	// The rename is durable only once the directory is (fsync(2): "an
	// explicit fsync() on a file descriptor for the directory is also
	// needed").
	if err := syncDir(filepath.Join(m.dir, "new")); err != nil {
		return "", fmt.Errorf("msgstore: spool: %w", err)
	}
	return path, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// scan lists the messages in new/ and cur/. A file another program moved
// to cur/ has ":2,FLAGS" after its unique name (maildir(5)); the id is
// the unique name. Files left in tmp/ were never acknowledged.
func (m *maildir) scan(logger *slog.Logger) ([]*entry, error) {
	var out []*entry
	for _, sub := range []string{"new", "cur"} {
		des, err := os.ReadDir(filepath.Join(m.dir, sub))
		if err != nil {
			return nil, fmt.Errorf("msgstore: spool: %w", err)
		}
		for _, de := range des {
			if !de.Type().IsRegular() || strings.HasPrefix(de.Name(), ".") {
				continue
			}
			path := filepath.Join(m.dir, sub, de.Name())
			raw, err := os.ReadFile(path)
			if err != nil {
				logger.Warn("msgstore: skipping an unreadable spool file", "path", path, "err", err)
				continue
			}
			id, _, _ := strings.Cut(de.Name(), ":")
			out = append(out, &entry{msg: envelopeOf(id, raw), path: path, bytes: int64(len(raw))})
		}
	}
	return out, nil
}

// read returns a stored file; if a mail reader moved it from new/ to
// cur/ since, it is found there.
func (m *maildir) read(path, id string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if moved, _ := filepath.Glob(filepath.Join(m.dir, "cur", id+":*")); len(moved) > 0 {
			return os.ReadFile(moved[0])
		}
		return nil, fmt.Errorf("%w %q (its spool file is gone)", ErrNotFound, id)
	}
	return raw, err
}

func (m *maildir) remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("msgstore: spool: %w", err)
	}
	return nil
}
