package server

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readCommands reads lines the way a session does (awaitInput, then the
// reader) until the first error, which it returns.
func readCommands(c *conn) ([]string, error) {
	var got []string
	for {
		c.awaitInput()
		var line []byte
		for {
			chunk, err := c.br.ReadSlice('\n')
			line = append(line, chunk...)
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil {
				return got, err
			}
			break
		}
		got = append(got, strings.TrimSuffix(string(line), "\r\n"))
	}
}

// tcpPair is a connected loopback pair: the lab's end and the client's.
func tcpPair(t *testing.T) (lab, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	lab, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close(); client.Close() })
	return lab, client
}

// TestAwaitInput: a plaintext session that waits with nothing buffered
// holds no reader, and the lines it then reads come out whole and in
// order however the client's bytes arrive; the read that ends the
// session reports what a read of the connection would have (end of
// file, a reset, the deadline), so the session ends for the same reason.
func TestAwaitInput(t *testing.T) {
	long := strings.Repeat("x", 5000)
	tests := []struct {
		name   string
		writes []string
		end    func(client net.Conn) // after the writes
		want   []string
		err    func(error) bool
	}{
		{"one command per write, then end of file", []string{"EHLO a\r\n", "MAIL FROM:<a@b>\r\n", "QUIT\r\n"},
			func(c net.Conn) { c.(*net.TCPConn).CloseWrite() },
			[]string{"EHLO a", "MAIL FROM:<a@b>", "QUIT"}, func(err error) bool { return err == io.EOF }},
		{"pipelined, split mid-line, a line longer than the reader", []string{"MAIL FROM:<a@b>\r\nRC", "PT TO:<c@d>\r\n" + long + "\r\nDATA\r\n"},
			func(c net.Conn) { c.(*net.TCPConn).CloseWrite() },
			[]string{"MAIL FROM:<a@b>", "RCPT TO:<c@d>", long, "DATA"}, func(err error) bool { return err == io.EOF }},
		// No bytes before the reset: Linux drops unread data on one.
		{"a reset", nil,
			func(c net.Conn) { c.(*net.TCPConn).SetLinger(0); c.Close() },
			nil, func(err error) bool { return errors.Is(err, syscall.ECONNRESET) }},
		{"the deadline, while waiting", nil, nil,
			nil, func(err error) bool { var ne net.Error; return errors.As(err, &ne) && ne.Timeout() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lab, client := tcpPair(t)
			c := &conn{raw: lab, client: lab, waitFD: -1}
			defer c.parkReader()
			type result struct {
				got []string
				err error
			}
			done := make(chan result, 1)
			// A bound, not a measure; the deadline case waits for bytes
			// that never come.
			bound := 30 * time.Second
			if tt.end == nil {
				bound = 100 * time.Millisecond
			}
			lab.SetReadDeadline(time.Now().Add(bound))
			go func() {
				got, err := readCommands(c)
				done <- result{got, err}
			}()
			for _, w := range tt.writes {
				if _, err := client.Write([]byte(w)); err != nil {
					t.Fatal(err)
				}
			}
			if tt.end != nil {
				tt.end(client)
			}
			r := <-done
			if strings.Join(r.got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("read %d lines %.60q, want %d %.60q", len(r.got), r.got, len(tt.want), tt.want)
			}
			if !tt.err(r.err) {
				t.Errorf("ended with %v (%T)", r.err, r.err)
			}
		})
	}
}

// chunkConn is a client that is no socket (a net.Conn in a test, a
// pipe): its session keeps its reader and reads as before.
type chunkConn struct {
	net.Conn
	stream []byte
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.stream) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.stream[:min(len(c.stream), 7)])
	c.stream = c.stream[n:]
	return n, nil
}

func TestAwaitInputNotASocket(t *testing.T) {
	c := &conn{client: &chunkConn{stream: []byte("NOOP\r\nRSET\r\nQUIT\r\n")}, waitFD: -1}
	defer c.parkReader()
	got, err := readCommands(c)
	if strings.Join(got, "|") != "NOOP|RSET|QUIT" || err != io.EOF {
		t.Errorf("read %q, %v", got, err)
	}
}
