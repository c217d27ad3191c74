package server

import (
	"bufio"
	"sync"
)

// The client's commands are read through a 4 KiB bufio.Reader, but a
// session spends most of its life waiting for the next command. A
// plaintext session waiting with nothing buffered gives its reader back
// to the pool and waits for the socket to become readable; the reader
// is taken again for the read that finds bytes (issue 14: memory per
// idle connection). That read is the one the session made before, of up
// to 4 KiB, so what one read takes is unchanged: the bytes pipelined
// after STARTTLS that are discarded (RFC 3207 §5), and which replies to
// a pipelined group go out together (RFC 2920 §3.1). A TLS session
// cannot wait on its socket (crypto/tls may hold decrypted bytes while
// the socket has none): it waits in a one-byte read of the TLS
// connection instead, and the reader taken then returns that byte
// first (tlsWait).

// readers read the client's commands; a session holds one from the
// first byte of a command until it waits for the next with nothing
// buffered (where it cannot wait on its socket, not a Unix, a plaintext
// session keeps it: reader_other.go).
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// clientReader is what the session's reader reads: the client's
// connection (TCP, or TLS once STARTTLS has run), or, while a waiting
// session finds out whether its socket has bytes, the socket itself
// without blocking.
type clientReader conn

func (r *clientReader) Read(p []byte) (int, error) {
	c := (*conn)(r)
	if c.waitFD >= 0 {
		return c.readNonblocking(p)
	}
	if c.heldN > 0 && len(p) > 0 {
		p[0], c.heldN = c.held[0], 0
		return 1, nil
	}
	if err := c.readErr; err != nil {
		c.readErr = nil
		return 0, err
	}
	return c.client.Read(p)
}

// tlsWait waits for a TLS session's next bytes without a reader: a
// one-byte read of the TLS connection, kept for the reader's first read
// (an error, for the read after). crypto/tls keeps the rest of the
// record; the reader's next read takes it, so once the reader has read
// on, what it holds is what it held before. An idle TLS session holds no
// 4 KiB reader (issue 14: memory per idle TLS connection, at the edge of
// its 40 KiB with one).
func (c *conn) tlsWait() {
	c.parkReader()
	n, err := c.tls.Read(c.held[:])
	c.heldN, c.readErr = n, err
}

// takeReader gives the session a reader, if it has none.
func (c *conn) takeReader() {
	if c.br == nil {
		c.br = readers.Get().(*bufio.Reader)
		c.br.Reset((*clientReader)(c))
	}
}

// parkReader gives the session's reader back to the pool, with whatever
// it still holds (nothing, while a session waits; at the end, bytes the
// client sent after QUIT).
func (c *conn) parkReader() {
	if c.br != nil {
		c.br.Reset(nil)
		readers.Put(c.br)
		c.br = nil
	}
}

// discardInput drops what the client sent that was not read yet, and
// returns how many bytes that was.
func (c *conn) discardInput() int {
	if c.br == nil {
		return 0
	}
	n := c.br.Buffered()
	c.br.Reset((*clientReader)(c))
	return n
}
