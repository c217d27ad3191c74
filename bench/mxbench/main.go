// Command mxbench is the benchmark harness's peers and load driver
// (issue 14): a bare crypto/tls server and a server that writes the same
// bytes as a lab scenario up to its alert, to measure the lab against,
// and a driver that runs sessions against any of them and prints their
// rate. bench/tls.sh runs it; it is not part of mxlab.
//
//	mxbench tls-server -addr A -cert C -key K
//	mxbench sink-server -addr A
//	mxbench alert-server -addr A -copy LAB -sni NAME
//	mxbench drive -mode starttls|tls|alert -addr A -n N -c C [-sni NAME]
//	mxbench site -manifest F -scenario S -field smtp|mx|cert|key
//	mxbench banner -addr A     (exit 0 once a server there greets)
package main

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mxbench tls-server|sink-server|alert-server|drive|site|banner [flags]")
		os.Exit(64)
	}
	var err error
	switch os.Args[1] {
	case "tls-server":
		err = tlsServer(os.Args[2:])
	case "sink-server":
		err = sinkServer(os.Args[2:])
	case "alert-server":
		err = alertServer(os.Args[2:])
	case "drive":
		err = drive(os.Args[2:])
	case "site":
		err = site(os.Args[2:])
	case "banner":
		err = banner(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q (tls-server, sink-server, alert-server, drive, site, banner)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mxbench:", err)
		os.Exit(1)
	}
}

// serve accepts until the listener fails and runs each connection on a
// goroutine, as the lab does.
func serve(ln net.Listener, handle func(net.Conn)) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			handle(c)
		}()
	}
}

// tlsServer is the bare TLS peer: a handshake with the lab's certificate,
// then it waits for the client to close.
func tlsServer(args []string) error {
	fs := flag.NewFlagSet("tls-server", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	certFile := fs.String("cert", "", "certificate chain (PEM)")
	keyFile := fs.String("key", "", "private key (PEM)")
	fs.Parse(args)
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr())
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	return serve(ln, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		if tc.Handshake() != nil {
			return
		}
		io.Copy(io.Discard, tc)
	})
}

// sinkServer is a bare Go SMTP sink: the replies smtp-sink gives, with
// nothing recorded, kept or logged, read and written as the lab does (a
// goroutine per session, a 4 KiB reader, replies flushed unless the next
// command is already buffered). Against smtp-sink it measures what Go's
// runtime costs a sink on the machine; against the lab, what the lab's
// own work costs (issue 14's plaintext figure).
func sinkServer(args []string) error {
	fs := flag.NewFlagSet("sink-server", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	fs.Parse(args)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr())
	return serve(ln, func(c net.Conn) {
		br := bufio.NewReaderSize(c, 4096)
		bw := bufio.NewWriterSize(c, 4096)
		bw.WriteString("220 sink.example ESMTP\r\n")
		for {
			if br.Buffered() == 0 && bw.Flush() != nil {
				return
			}
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			verb, _, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
			switch strings.ToUpper(verb) {
			case "EHLO":
				bw.WriteString("250-sink.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
			case "DATA":
				bw.WriteString("354 End data with <CR><LF>.<CR><LF>\r\n")
				bw.Flush()
				for start := true; ; {
					l, err := br.ReadSlice('\n')
					if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
						return
					}
					if start && string(l) == ".\r\n" {
						break
					}
					start = err == nil
				}
				bw.WriteString("250 2.0.0 Ok: queued\r\n")
			case "QUIT":
				bw.WriteString("221 2.0.0 Bye\r\n")
				bw.Flush()
				return
			default:
				bw.WriteString("250 2.0.0 Ok\r\n")
			}
		}
	})
}

// alertServer learns a lab scenario's banner, EHLO reply and STARTTLS
// reply from the lab itself, then serves them and answers every
// ClientHello with the alert the lab sent: the least a server writing
// the same bytes must do.
func alertServer(args []string) error {
	fs := flag.NewFlagSet("alert-server", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	lab := fs.String("copy", "", "the lab scenario's SMTP address to copy")
	sni := fs.String("sni", "", "server name the ClientHello carries")
	fs.Parse(args)
	banner, ehlo, ready, alert, err := learn(*lab, *sni)
	if err != nil {
		return fmt.Errorf("copying %s: %w", *lab, err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr())
	return serve(ln, func(c net.Conn) {
		br := bufio.NewReader(c)
		c.Write(banner)
		for _, reply := range [][]byte{ehlo, ready} {
			if _, err := br.ReadString('\n'); err != nil {
				return
			}
			c.Write(reply)
		}
		var hdr [5]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		if _, err := br.Discard(int(hdr[3])<<8 | int(hdr[4])); err != nil {
			return
		}
		c.Write(alert)
	})
}

// learn runs one session against the lab and returns what it wrote.
func learn(addr, sni string) (banner, ehlo, ready, alert []byte, err error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	if banner, err = readReply(br); err != nil {
		return
	}
	if ehlo, err = command(c, br, "EHLO bench.example"); err != nil {
		return
	}
	if ready, err = command(c, br, "STARTTLS"); err != nil {
		return
	}
	// Whatever the lab writes after the ClientHello, to its close.
	rec := &recorder{Reader: br}
	tc := tls.Client(&readConn{Conn: c, r: rec}, clientConfig(sni))
	if tc.Handshake() == nil {
		err = errors.New("the handshake completed: not an alert scenario")
		return
	}
	rest, _ := io.ReadAll(br)
	alert = append(rec.buf, rest...)
	return
}

// readConn is a connection read through r.
type readConn struct {
	net.Conn
	r io.Reader
}

func (c *readConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// recorder keeps what the TLS client read.
type recorder struct {
	io.Reader
	buf []byte
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.Reader.Read(p)
	r.buf = append(r.buf, p[:n]...)
	return n, err
}

// readReply reads a whole (multi-line) SMTP reply, line ends included.
func readReply(br *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return out, err
		}
		out = append(out, l...)
		if len(l) < 4 || l[3] == ' ' {
			return out, nil
		}
	}
}

func command(c net.Conn, br *bufio.Reader, line string) ([]byte, error) {
	if _, err := io.WriteString(c, line+"\r\n"); err != nil {
		return nil, err
	}
	return readReply(br)
}

func clientConfig(sni string) *tls.Config {
	// Both servers present the same certificate; verifying it would cost
	// the driver, not them.
	return &tls.Config{ServerName: sni, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}
}

// drive runs n sessions, c at a time, and prints the rate.
func drive(args []string) error {
	fs := flag.NewFlagSet("drive", flag.ExitOnError)
	mode := fs.String("mode", "starttls", "starttls, tls or alert")
	addr := fs.String("addr", "", "server address")
	n := fs.Int("n", 10000, "sessions")
	conc := fs.Int("c", 50, "sessions at once")
	sni := fs.String("sni", "", "server name to send")
	fs.Parse(args)
	session, ok := map[string]func(string, *tls.Config) error{
		"starttls": starttlsSession, "tls": tlsSession, "alert": alertSession,
	}[*mode]
	if !ok {
		return fmt.Errorf("unknown -mode %q", *mode)
	}
	cfg := clientConfig(*sni)
	var next, failed atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(*n) {
				if err := session(*addr, cfg); err != nil {
					failed.Add(1)
					once.Do(func() { first = err })
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d of %d sessions failed; first: %v", f, *n, first)
	}
	fmt.Printf("%.0f\n", float64(*n)/elapsed.Seconds())
	return nil
}

func dial(addr string) (net.Conn, *bufio.Reader, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, nil, err
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	if _, err := readReply(br); err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, br, nil
}

// starttlsSession: connect, EHLO, STARTTLS, TLS 1.3, QUIT.
func starttlsSession(addr string, cfg *tls.Config) error {
	c, br, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := command(c, br, "EHLO bench.example"); err != nil {
		return err
	}
	if r, err := command(c, br, "STARTTLS"); err != nil || !strings.HasPrefix(string(r), "220") {
		return fmt.Errorf("STARTTLS: %q %v", r, err)
	}
	tc := tls.Client(c, cfg)
	if err := tc.Handshake(); err != nil {
		return err
	}
	_, err = command(tc, bufio.NewReader(tc), "QUIT")
	return err
}

// tlsSession: connect, TLS 1.3, close.
func tlsSession(addr string, cfg *tls.Config) error {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return tls.Client(c, cfg).Handshake()
}

// alertSession: connect, EHLO, STARTTLS, a ClientHello answered by an
// alert.
func alertSession(addr string, cfg *tls.Config) error {
	c, br, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := command(c, br, "EHLO bench.example"); err != nil {
		return err
	}
	if _, err := command(c, br, "STARTTLS"); err != nil {
		return err
	}
	// crypto/tls reports a received alert as a "remote error".
	var op *net.OpError
	if err := tls.Client(c, cfg).Handshake(); !errors.As(err, &op) || op.Op != "remote error" {
		return fmt.Errorf("want an alert, got %v", err)
	}
	return nil
}

// site prints one field of a scenario's entry in the lab's manifest; key
// is the private key beside the certificate (certs.Store's layout).
func site(args []string) error {
	fs := flag.NewFlagSet("site", flag.ExitOnError)
	manifest := fs.String("manifest", "", "the lab's manifest")
	scenario := fs.String("scenario", "", "scenario name")
	field := fs.String("field", "smtp", "smtp, mx, cert or key")
	fs.Parse(args)
	data, err := os.ReadFile(*manifest)
	if err != nil {
		return err
	}
	var m struct {
		Scenarios []struct{ Name, SMTP, MX, Cert string }
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%s: %w", *manifest, err)
	}
	for _, s := range m.Scenarios {
		if s.Name != *scenario {
			continue
		}
		v, ok := map[string]string{"smtp": s.SMTP, "mx": s.MX, "cert": s.Cert, "key": filepath.Join(filepath.Dir(s.Cert), "key.pem")}[*field]
		if !ok {
			return fmt.Errorf("unknown -field %q", *field)
		}
		fmt.Println(v)
		return nil
	}
	return fmt.Errorf("%s: no scenario %q", *manifest, *scenario)
}

// banner reads a server's greeting: the scripts wait for a peer by it.
func banner(args []string) error {
	fs := flag.NewFlagSet("banner", flag.ExitOnError)
	addr := fs.String("addr", "", "server address")
	fs.Parse(args)
	c, br, err := dial(*addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = command(c, br, "QUIT")
	return err
}
