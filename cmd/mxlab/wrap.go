package main

import (
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/term"
)

// Text output for people fits the terminal (issue 15): the width of the
// terminal standard output is, else $COLUMNS, else 80 columns. Lines are
// wrapped at spaces, never truncated; a word longer than a line is
// broken. Tables are not wrapped (they would stop being tables): only the
// detail views (send, explain, scenarios NAME, profiles NAME) are.

// defaultWidth is the width when nothing says otherwise.
const defaultWidth = 80

// textWidth is the width text output to w must fit.
func textWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
	}
	if cols, err := strconv.Atoi(strings.TrimSpace(os.Getenv("COLUMNS"))); err == nil && cols > 0 {
		return cols
	}
	return defaultWidth
}

// wrapped runs print with a writer that wraps every line to w's width.
func wrapped(w io.Writer, print func(io.Writer)) {
	ww := &wrapWriter{w: w, width: textWidth(w)}
	print(ww)
	ww.flush()
}

// wrapWriter wraps complete lines as they are written.
type wrapWriter struct {
	w     io.Writer
	width int
	buf   []byte
}

func (x *wrapWriter) Write(p []byte) (int, error) {
	x.buf = append(x.buf, p...)
	for {
		i := strings.IndexByte(string(x.buf), '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(x.buf[:i])
		x.buf = x.buf[i+1:]
		for _, l := range wrapLine(line, x.width) {
			if _, err := io.WriteString(x.w, l+"\n"); err != nil {
				return len(p), err
			}
		}
	}
}

func (x *wrapWriter) flush() {
	if len(x.buf) > 0 {
		for _, l := range wrapLine(string(x.buf), x.width) {
			_, _ = io.WriteString(x.w, l+"\n")
		}
		x.buf = nil
	}
}

// wrapLine breaks a line into lines of at most width runes. Continuation
// lines are indented two more than the line's own indentation (at most
// half the width), so a wrapped item still reads as one.
func wrapLine(line string, width int) []string {
	if utf8.RuneCountInString(line) <= width || width < 8 {
		return []string{line}
	}
	indent := len(line) - len(strings.TrimLeft(line, " "))
	cont := strings.Repeat(" ", min(indent+2, width/2))
	var out []string
	cur := line[:indent]
	curLen := indent
	for _, word := range strings.Fields(line[indent:]) {
		for word != "" {
			wl := utf8.RuneCountInString(word)
			atStart := strings.TrimSpace(cur) == ""
			need := wl
			if !atStart {
				need++ // the space before the word
			}
			switch {
			case curLen+need <= width:
				if !atStart {
					cur += " "
					curLen++
				}
				cur += word
				curLen += wl
				word = ""
			case atStart:
				// A word longer than a whole line: break it.
				head, tail := splitRunes(word, max(width-curLen, 1))
				out = append(out, cur+head)
				cur, curLen, word = cont, len(cont), tail
			default:
				out = append(out, cur)
				cur, curLen = cont, len(cont)
			}
		}
	}
	if strings.TrimSpace(cur) != "" {
		out = append(out, cur)
	}
	return out
}

// splitRunes splits s after n runes.
func splitRunes(s string, n int) (string, string) {
	i := 0
	for j := range s {
		if i == n {
			return s[:j], s[j:]
		}
		i++
	}
	return s, ""
}
