package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// openJSONLines starts a JSON Lines file afresh, for appending.
func openJSONLines(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o644)
}

// appendLine writes one complete line with a single write(2) on an
// O_APPEND file, so concurrent writers never interleave and a crash
// leaves at most one partial line at the very end (the kernel may stop a
// large write short when the process is killed), which ReadJSONLines
// skips.
func appendLine(f *os.File, line []byte) error {
	buf := make([]byte, 0, len(line)+1)
	buf = append(append(buf, line...), '\n')
	_, err := f.Write(buf)
	return err
}

// ReadJSONLines decodes a JSON Lines file the lab writes (the sessions
// file, the accepted file) into values of T, in order. A last line
// without its newline is a write the lab did not finish (it was killed):
// it is skipped, not an error. Any other line that does not decode is an
// error naming its number.
func ReadJSONLines[T any](r io.Reader) ([]T, error) {
	var out []T
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			return out, nil // a partial last line, or none
		}
		if err != nil {
			return out, fmt.Errorf("server: reading line %d: %w", n, err)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(line, &v); err != nil {
			return out, fmt.Errorf("server: line %d: %w", n, err)
		}
		out = append(out, v)
	}
}

// ReadJSONLinesFile is ReadJSONLines on a file.
func ReadJSONLinesFile[T any](path string) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	defer f.Close()
	return ReadJSONLines[T](f)
}
