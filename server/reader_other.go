//go:build !unix

package server

// awaitInput leaves the session holding a reader. Where the socket
// cannot be read without blocking through syscall.Read (not a Unix), a
// waiting plaintext session keeps its reader; a TLS session waits as it
// does everywhere (tlsWait).
func (c *conn) awaitInput() {
	if c.br != nil && c.br.Buffered() > 0 {
		return
	}
	if c.tls != nil {
		c.tlsWait()
	}
	c.takeReader()
}

// readNonblocking is never called here: waitFD stays -1.
func (c *conn) readNonblocking([]byte) (int, error) {
	panic("server: readNonblocking without a waiting socket")
}
