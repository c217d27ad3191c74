package server

import (
	"fmt"

	"github.com/mxlab/mxlab/scenarios"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// encode62 writes n in base 62, left-padded with zeros to width.
func encode62(n uint64, width int) string {
	b := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		b[i] = base62[n%62]
		n /= 62
	}
	return string(b)
}

// formatQueueID renders a run tag (24 bits) and a sequence number in the
// shape of a real server's queue ids, so that users and normalising tests
// see the same shapes as from the real server.
func formatQueueID(style scenarios.QueueIDStyle, tag, seq uint32) string {
	t := uint64(tag)
	switch style {
	case scenarios.QueueIDSendmail:
		// e.g. 6AMK0XQk023259: 8 characters of date and time, 6 digits.
		return encode62(t<<8|uint64(seq>>16), 8) + fmt.Sprintf("%06d", seq%1000000)
	case scenarios.QueueIDExim:
		// e.g. 1xVDXP-00028Z-0n.
		return encode62(t, 6) + "-" + encode62(uint64(seq), 6) + "-" + encode62(uint64(seq>>12), 2)
	}
	// Postfix: upper-case hex of variable length, 11 digits typical.
	return fmt.Sprintf("%06X%05X", tag, seq&0xfffff)
}
