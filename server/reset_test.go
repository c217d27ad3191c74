package server

import (
	"net"
	"testing"
	"time"

	"github.com/mxlab/mxlab/internal/smtpexpect"
)

// resetConn ends a connection with RST instead of FIN (SO_LINGER 0).
func resetConn(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.(*net.TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// TestResetDuringHandshake: a client that resets the connection at any
// point of STARTTLS is recorded as reset, not as closed by the lab.
func TestResetDuringHandshake(t *testing.T) {
	hello := readHello(t, "openssl-tls1_3")
	for _, tc := range []struct {
		name string
		send []byte // what the client sends after the 220 to STARTTLS
		// wait reads this many bytes of the server's answer first
		wait int
	}{
		{"before the ClientHello", nil, 0},
		{"in the middle of the ClientHello", hello[:len(hello)/2], 0},
		{"after the ServerHello", hello, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startScenario(t, "baseline", nil)
			d := ts.greeted(t)
			d.Cmd("STARTTLS", 220)
			if len(tc.send) > 0 {
				if _, err := d.Conn.Write(tc.send); err != nil {
					t.Fatal(err)
				}
			}
			if tc.wait > 0 {
				d.Conn.SetReadDeadline(time.Now().Add(smtpexpect.Timeout))
				buf := make([]byte, tc.wait)
				if _, err := d.Conn.Read(buf); err != nil || buf[0] != 22 {
					t.Fatalf("server's first handshake bytes %x, %v", buf, err)
				}
			}
			resetConn(t, d.Conn)
			r := ts.waitRecords(t, 1)[0]
			if r.EndReason != EndReset {
				t.Errorf("end %q (tls_error %q), want reset", r.EndReason, r.TLSError)
			}
		})
	}
}
