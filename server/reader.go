package server

import (
	"bufio"
	"sync"
)

// The client's commands are read through a 4 KiB bufio.Reader, but a
// session spends most of its life waiting for the next command. While it
// waits with nothing buffered, the reader goes back to the pool and the
// wait reads into the session's small first-read buffer instead: an idle
// session holds 512 bytes, not 4 KiB (issue 14: memory per idle
// connection). One read still takes a whole command line (RFC 5321
// §4.5.3.1.4: 512 octets), so waking costs no extra system call.

// firstRead is the size of the buffer a waiting session reads into.
const firstRead = 512

// readers read the client's commands; a session holds one from the first
// byte of a command until it waits for the next with nothing buffered.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// clientReader is what the session's bufio.Reader reads: the bytes the
// wait already read, then the client's connection (TCP, or TLS once
// STARTTLS has run).
type clientReader conn

func (r *clientReader) Read(p []byte) (int, error) {
	c := (*conn)(r)
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.client.Read(p)
}

// awaitInput waits for the client's next bytes. With bytes already
// buffered or pending it returns at once; otherwise the reader is parked
// for the wait and taken again once bytes came. A read error that came
// with no bytes is returned; one that came with bytes, the reader's next
// read of the connection reports again.
func (c *conn) awaitInput() error {
	// Pending bytes count as buffered: an empty reader takes them all in
	// its first fill, but nothing here should rely on that.
	if len(c.pending) > 0 || c.br != nil && c.br.Buffered() > 0 {
		return nil
	}
	c.parkReader()
	n, err := c.client.Read(c.first[:])
	c.pending = c.first[:n]
	c.takeReader()
	if n == 0 {
		return err
	}
	return nil
}

// takeReader gives the session a reader, if it has none.
func (c *conn) takeReader() {
	if c.br == nil {
		c.br = readers.Get().(*bufio.Reader)
		c.br.Reset((*clientReader)(c))
	}
}

// parkReader gives the session's reader back to the pool. The caller
// has checked that it holds nothing.
func (c *conn) parkReader() {
	if c.br != nil {
		c.br.Reset(nil)
		readers.Put(c.br)
		c.br = nil
	}
}

// discardInput drops what the client sent that was not read yet.
func (c *conn) discardInput() int {
	n := len(c.pending)
	c.pending = nil
	if c.br != nil {
		n += c.br.Buffered()
		c.br.Reset((*clientReader)(c))
	}
	return n
}
