package server

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
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

// awaitInput waits for the client's next bytes and leaves the session
// holding a reader. With bytes already buffered it returns at once.
// Errors are not returned: the reader's next read of the connection
// reports them as it always did.
func (c *conn) awaitInput() {
	if c.br != nil && c.br.Buffered() > 0 {
		return
	}
	if sc, ok := c.client.(syscall.Conn); ok && c.tls == nil {
		if rc, err := sc.SyscallConn(); err == nil {
			c.parkReader()
			// Read calls the function again each time the poller says
			// the socket is readable, until it returns true; it returns
			// at the read deadline or when the connection is closed.
			_ = rc.Read(func(fd uintptr) bool {
				c.takeReader()
				c.waitFD = int(fd)
				_, err := c.br.Peek(1)
				c.waitFD = -1
				if errors.Is(err, syscall.EAGAIN) {
					c.parkReader()
					return false
				}
				return true
			})
		}
	}
	c.takeReader()
}

// readNonblocking is one read(2) of the waiting session's socket. An
// error other than "nothing yet" is kept for the next read of the
// connection, worded as the net package words it, so that the session
// ends with the same reason as if it had read the connection itself.
func (c *conn) readNonblocking(p []byte) (int, error) {
	for {
		n, err := syscall.Read(c.waitFD, p)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			return 0, err
		case err != nil:
			c.readErr = &net.OpError{Op: "read", Net: "tcp", Source: c.raw.LocalAddr(), Addr: c.raw.RemoteAddr(),
				Err: os.NewSyscallError("read", err)}
			return 0, errNotYet
		case n == 0:
			c.readErr = io.EOF
			return 0, errNotYet
		}
		return n, nil
	}
}

// errNotYet ends a waiting session's read that found an error or the
// end of the stream: both are the next read's to report.
var errNotYet = errors.New("kept for the next read")

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
