package catalog

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

func TestList(t *testing.T) {
	l := List[string]{Items: []string{"b", "a", "c"}, Name: func(s string) string { return s }}
	if got, err := l.Select([]string{"c", "b"}); err != nil || strings.Join(got, ",") != "b,c" {
		t.Errorf("Select keeps the list's order: %v %v", got, err)
	}
	if got, _ := l.Select(nil); len(got) != 3 {
		t.Errorf("Select(nil) = %v, want all", got)
	}
	_, err := l.Get("d")
	if !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), `unknown name "d" (valid: b, a, c)`) {
		t.Errorf("Get: %v", err)
	}
	if _, err := l.Select([]string{"a", "x"}); !errors.Is(err, ErrUnknown) {
		t.Errorf("Select: %v", err)
	}
}

func TestOneOf(t *testing.T) {
	type kind string
	if err := OneOf("tls.kind", kind("b"), []kind{"a", "b"}); err != nil {
		t.Error(err)
	}
	if err := OneOf("tls.kind", kind("z"), []kind{"a", "b"}); err == nil || err.Error() != `tls.kind: unknown value "z" (want one of a, b)` {
		t.Errorf("err = %v", err)
	}
}

func TestReadDir(t *testing.T) {
	fsys := fstest.MapFS{
		"d/b.yaml":     {Data: []byte("b")},
		"d/a.yml":      {Data: []byte("a")},
		"d/notes.md":   {Data: []byte("x")},
		"d/sub/c.yaml": {Data: []byte("c")},
	}
	var got []string
	err := ReadDir(fsys, "lbl", "d", func(file string, data []byte) error {
		got = append(got, file+"="+string(data))
		return nil
	})
	if err != nil || strings.Join(got, " ") != "lbl/d/a.yml=a lbl/d/b.yaml=b" {
		t.Errorf("ReadDir: %v %v", got, err)
	}
}
