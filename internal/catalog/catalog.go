// Package catalog holds what the project's data catalogues (scenarios,
// dialects, profiles) share: loading a folder of YAML files, names that
// are DNS labels, enum checks that name the key, and lookups whose error
// lists the valid names.
package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
)

// NameRE is what a scenario or profile name must look like: a DNS label.
var NameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ErrUnknown is wrapped by lookups of a name the catalogue lacks.
var ErrUnknown = errors.New("unknown name")

// OneOf checks a typed enum's value and names the key in its error.
func OneOf[T ~string](key string, v T, allowed []T) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	s := make([]string, len(allowed))
	for i, a := range allowed {
		s[i] = string(a)
	}
	return fmt.Errorf("%s: unknown value %q (want one of %s)", key, v, strings.Join(s, ", "))
}

// ReadDir feeds every *.yaml (or *.yml) file of dir in fsys to add, in
// name order, with its path under label for error messages.
func ReadDir(fsys fs.FS, label, dir string, add func(file string, data []byte) error) error {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			continue
		}
		file := filepath.ToSlash(filepath.Join(dir, e.Name()))
		data, err := fs.ReadFile(fsys, file)
		if err != nil {
			return err
		}
		if err := add(filepath.Join(label, file), data); err != nil {
			return err
		}
	}
	return nil
}

// List is an ordered set of named items.
type List[T any] struct {
	// Items are the items, in order.
	Items []T
	// Name returns an item's name.
	Name func(T) string
}

// Names returns the names in order.
func (l *List[T]) Names() []string {
	out := make([]string, len(l.Items))
	for i, it := range l.Items {
		out[i] = l.Name(it)
	}
	return out
}

// Get returns the named item; the error wraps ErrUnknown and lists the
// valid names.
func (l *List[T]) Get(name string) (T, error) {
	for _, it := range l.Items {
		if l.Name(it) == name {
			return it, nil
		}
	}
	var zero T
	return zero, fmt.Errorf("%w %q (valid: %s)", ErrUnknown, name, strings.Join(l.Names(), ", "))
}

// Select returns the named items in the list's order, or all of them
// when names is empty.
func (l *List[T]) Select(names []string) ([]T, error) {
	if len(names) == 0 {
		return append([]T(nil), l.Items...), nil
	}
	want := map[string]bool{}
	for _, n := range names {
		if _, err := l.Get(n); err != nil {
			return nil, err
		}
		want[n] = true
	}
	var out []T
	for _, it := range l.Items {
		if want[l.Name(it)] {
			out = append(out, it)
		}
	}
	return out, nil
}

var placeholderRE = regexp.MustCompile(`\{([^}]*)\}`)

// CheckTemplate rejects a placeholder ({name}) the template cannot use,
// so a typo fails at load instead of printing literally.
func CheckTemplate(key, tmpl string, allowed ...string) error {
	for _, m := range placeholderRE.FindAllStringSubmatch(tmpl, -1) {
		ok := false
		for _, a := range allowed {
			ok = ok || m[1] == a
		}
		if !ok {
			return fmt.Errorf("%s: unknown placeholder {%s} in %q (allowed: {%s})", key, m[1], tmpl, strings.Join(allowed, "}, {"))
		}
	}
	return nil
}
