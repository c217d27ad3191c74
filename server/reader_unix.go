//go:build unix

package server

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// awaitInput waits for the client's next bytes and leaves the session
// holding a reader. With bytes already buffered it returns at once.
// Errors are not returned: the reader's next read of the connection
// reports them as it always did.
func (c *conn) awaitInput() {
	if c.br != nil && c.br.Buffered() > 0 {
		return
	}
	if c.tls != nil {
		c.tlsWait()
	} else if c.socketWait() {
		c.parkReader()
		// Read calls readable again each time the poller says the socket
		// is readable, until it returns true; it returns at the read
		// deadline or when the connection is closed.
		_ = c.sock.Read(c.readable)
	}
	c.takeReader()
}

// socketWait says whether the session can wait on its socket, getting
// what that takes once per session rather than once per command.
func (c *conn) socketWait() bool {
	if c.sock == nil {
		sc, ok := c.raw.(syscall.Conn)
		if !ok {
			return false
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return false
		}
		c.sock, c.readable = rc, c.readableFD
	}
	return true
}

// readableFD is one try of the wait: the reader reads the socket without
// blocking; true once it found bytes, an error or the end of the stream.
func (c *conn) readableFD(fd uintptr) bool {
	c.takeReader()
	c.waitFD = int(fd)
	_, err := c.br.Peek(1)
	c.waitFD = -1
	if errors.Is(err, syscall.EAGAIN) {
		c.parkReader()
		return false
	}
	return true
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
