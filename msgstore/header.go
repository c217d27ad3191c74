package msgstore

import (
	"bytes"
	"strings"
)

// maxHeaderBytes bounds how much of a message is read as its header: a
// client can send a body with no empty line at all.
const maxHeaderBytes = 256 << 10

// parseHeader reads the header section of an RFC 5322 message (§2.2):
// fields up to the first empty line, continuation lines (starting with
// space or tab) unfolded (§2.2.3). It is lenient, as the lab shows what a
// client sent rather than judging it: a line without a colon ends the
// header, as Postfix's cleanup treats it as the start of the body. It
// returns the fields and where the body starts.
func parseHeader(msg []byte) ([]Header, int) {
	var hdrs []Header
	pos := 0
	for pos < len(msg) && pos < maxHeaderBytes {
		end := bytes.IndexByte(msg[pos:], '\n')
		next := len(msg)
		line := msg[pos:]
		if end >= 0 {
			line = msg[pos : pos+end]
			next = pos + end + 1
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		switch {
		case len(line) == 0:
			return hdrs, next
		case (line[0] == ' ' || line[0] == '\t') && len(hdrs) > 0:
			h := &hdrs[len(hdrs)-1]
			h.Value = strings.TrimSpace(h.Value + " " + strings.TrimSpace(string(line)))
		default:
			name, value, ok := bytes.Cut(line, []byte(":"))
			if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
				return hdrs, pos
			}
			hdrs = append(hdrs, Header{Name: string(name), Value: strings.TrimSpace(string(value))})
		}
		pos = next
	}
	return hdrs, pos
}
