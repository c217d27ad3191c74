package explain

import (
	"io"
	"mime/quotedprintable"
	"regexp"
	"strings"
)

// maxText bounds the text Explain reads; a bounce's diagnostic part is a
// few kilobytes, and the patterns are run over every variant.
const maxText = 64 << 10

// qpEscape matches a quoted-printable escape ("=3D", "=20").
var qpEscape = regexp.MustCompile(`=[0-9A-F]{2}`)

// variants returns the forms of a pasted text worth matching, best first:
//   - quoting ("> ", ">> ", "> > ") removed from every line;
//   - quoted-printable soft line breaks ("=" at a line's end) joined and
//     escapes decoded, when the text looks quoted-printable;
//   - lines joined with a space and runs of white space collapsed, which
//     undoes the wrapping mail clients do at spaces (76 columns);
//   - lines joined with nothing, which undoes a wrap that cut a word or an
//     error code in two ("SSLV3_ALERT_ILLEG" / "AL_PARAMETER").
func variants(text string) []string {
	if len(text) > maxText {
		text = text[:maxText]
	}
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = unquote(l)
	}
	text = strings.Join(lines, "\n")
	if looksQuotedPrintable(text) {
		text = decodeQP(text)
		lines = strings.Split(text, "\n")
	}
	spaced := strings.Join(strings.Fields(text), " ")
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.TrimSpace(l))
	}
	joined := b.String()
	if joined == spaced || joined == "" {
		return []string{spaced}
	}
	return []string{spaced, joined}
}

// unquote removes e-mail quoting from one line: any run of ">" with the
// spaces around them, as in "> > text" or ">>text".
func unquote(line string) string {
	t := strings.TrimLeft(line, " \t")
	if !strings.HasPrefix(t, ">") {
		return line
	}
	for strings.HasPrefix(t, ">") {
		t = strings.TrimLeft(t[1:], " \t")
	}
	return t
}

// looksQuotedPrintable reports whether a text carries quoted-printable soft
// line breaks: a line that ends in "=" followed by more text, with at least
// one escape or a second soft break, so that "a=b" in a log is left alone.
func looksQuotedPrintable(text string) bool {
	soft := strings.Count(text, "=\n")
	if soft == 0 {
		return false
	}
	return soft > 1 || qpEscape.MatchString(text)
}

// decodeQP decodes quoted-printable text leniently: mime/quotedprintable
// first, and on a malformed escape just the soft line breaks.
func decodeQP(text string) string {
	out, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(text)))
	if err == nil {
		return string(out)
	}
	return strings.ReplaceAll(text, "=\n", "")
}
