//go:build !unix

package server

// awaitInput leaves the session holding a reader. Where the socket
// cannot be read without blocking through syscall.Read (not a Unix), a
// waiting session keeps its reader, as a TLS session does everywhere.
func (c *conn) awaitInput() {
	c.takeReader()
}

// readNonblocking is never called here: waitFD stays -1.
func (c *conn) readNonblocking([]byte) (int, error) {
	panic("server: readNonblocking without a waiting socket")
}
