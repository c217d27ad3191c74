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
// a pipelined group go out together (RFC 2920 §3.1). A TLS session keeps
// its reader: crypto/tls may hold decrypted bytes while the socket has
// none, so the socket's readiness says nothing about them.

// readers read the client's commands; a plaintext session holds one
// from the first byte of a command until it waits for the next with
// nothing buffered, a TLS session for the rest of its life.
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
	if err := c.readErr; err != nil {
		c.readErr = nil
		return 0, err
	}
	return c.client.Read(p)
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
