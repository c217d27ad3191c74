package sender

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// client is a minimal SMTP client that keeps a transcript. It is ours,
// not net/smtp's or go-smtp's, because a sender must see every byte it
// acts on: the raw connection for STARTTLS and the probe.
type client struct {
	conn       net.Conn
	br         *bufio.Reader
	timeout    time.Duration
	transcript *[]string
}

func newClient(conn net.Conn, timeout time.Duration, transcript *[]string) *client {
	return &client{conn: conn, br: bufio.NewReader(conn), timeout: timeout, transcript: transcript}
}

// reply reads one reply; lines keep their code and separator.
func (c *client) reply() (int, []string, error) {
	var lines []string
	for {
		c.conn.SetReadDeadline(time.Now().Add(c.timeout))
		l, err := c.br.ReadString('\n')
		if err != nil {
			return 0, lines, err
		}
		l = strings.TrimRight(l, "\r\n")
		*c.transcript = append(*c.transcript, "S: "+l)
		if len(l) < 3 {
			return 0, lines, fmt.Errorf("malformed reply %q", l)
		}
		lines = append(lines, l)
		if len(l) == 3 || l[3] == ' ' {
			code, err := strconv.Atoi(l[:3])
			return code, lines, err
		}
		if l[3] != '-' {
			return 0, lines, fmt.Errorf("malformed reply %q", l)
		}
	}
}

func (c *client) send(line string) error {
	shown := line
	if strings.HasPrefix(strings.ToUpper(line), "AUTH ") {
		if f := strings.Fields(line); len(f) > 2 {
			shown = f[0] + " " + f[1] + " ***"
		}
	}
	*c.transcript = append(*c.transcript, "C: "+shown)
	c.conn.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := c.conn.Write([]byte(line + "\r\n"))
	return err
}

func (c *client) cmd(line string) (int, []string, error) {
	if err := c.send(line); err != nil {
		return 0, nil, err
	}
	return c.reply()
}

// keywords returns the EHLO keywords of an EHLO reply.
func keywords(lines []string) []string {
	var kws []string
	for _, l := range lines[1:] {
		if len(l) > 4 {
			kws = append(kws, l[4:])
		}
	}
	return kws
}

func hasKeyword(kws []string, kw string) bool {
	for _, k := range kws {
		if f := strings.Fields(k); len(f) > 0 && strings.EqualFold(f[0], kw) {
			return true
		}
	}
	return false
}

func lastLine(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}
