package server

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

// chunkConn is a client whose reads return the stream in pieces of the
// given sizes, then io.EOF.
type chunkConn struct {
	net.Conn
	stream []byte
	sizes  []int
	reads  int
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.stream) == 0 {
		return 0, io.EOF
	}
	n := len(c.stream)
	if c.reads < len(c.sizes) {
		n = min(n, c.sizes[c.reads])
	}
	c.reads++
	n = copy(p, c.stream[:n])
	c.stream = c.stream[n:]
	return n, nil
}

// TestAwaitInput: lines read through the parked reader come out whole
// and in order, however the client's bytes arrive, including lines
// longer than the wait's buffer and near the reader's size.
func TestAwaitInput(t *testing.T) {
	long := strings.Repeat("x", 4000)
	tests := []struct {
		name  string
		lines []string
		sizes []int
	}{
		{"one command per read", []string{"EHLO a", "MAIL FROM:<a@b>", "QUIT"}, []int{8, 17, 6}},
		{"pipelined in one read", []string{"MAIL FROM:<a@b>", "RCPT TO:<c@d>", "DATA"}, nil},
		{"byte by byte", []string{"NOOP", "QUIT"}, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		{"a line near the reader's size", []string{long, "NOOP", strings.Repeat("y", 500), "QUIT"}, []int{3900, 512, 512, 512}},
		{"many short lines past 512 bytes", strings.Split(strings.Repeat("RSET\n", 300), "\n")[:300], []int{512, 512, 512}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := strings.Join(tt.lines, "\r\n") + "\r\n"
			cc := &chunkConn{stream: []byte(stream), sizes: tt.sizes}
			c := &conn{client: cc}
			defer c.parkReader()
			var got []string
			for {
				if err := c.awaitInput(); err != nil {
					if !errors.Is(err, io.EOF) {
						t.Fatal(err)
					}
					break
				}
				var line []byte
				for {
					chunk, err := c.br.ReadSlice('\n')
					line = append(line, chunk...)
					if errors.Is(err, bufio.ErrBufferFull) {
						continue
					}
					if err != nil {
						t.Fatalf("after %d lines: %v", len(got), err)
					}
					break
				}
				got = append(got, strings.TrimSuffix(string(line), "\r\n"))
			}
			if strings.Join(got, "|") != strings.Join(tt.lines, "|") {
				t.Errorf("got %d lines %.80q, want %d %.80q", len(got), got, len(tt.lines), tt.lines)
			}
		})
	}
}

// TestAwaitInputPending: bytes the reader has not taken are read before
// the connection is: the wait does not read over them.
func TestAwaitInputPending(t *testing.T) {
	cc := &chunkConn{stream: []byte("NOOP\r\n")}
	c := &conn{client: cc}
	c.pending = []byte("QUIT\r\n")
	c.takeReader()
	defer c.parkReader()
	if err := c.awaitInput(); err != nil {
		t.Fatal(err)
	}
	if cc.reads != 0 {
		t.Fatalf("the wait read the connection with %q pending", c.pending)
	}
	if line, err := c.br.ReadSlice('\n'); string(line) != "QUIT\r\n" || err != nil {
		t.Fatalf("read %q, %v; want the pending QUIT", line, err)
	}
}
