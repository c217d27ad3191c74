package server

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/mxlab/mxlab/certs"
	"github.com/mxlab/mxlab/tlsalert"
)

// TestRemoteAlert: the alert a client sends encrypted (TLS 1.3, after
// the server's Finished) reaches the record through crypto/tls's error.
func TestRemoteAlert(t *testing.T) {
	leaf, err := testPKI(t).Leaf(certs.LeafSpec{Name: "remote-alert", DNSNames: []string{"mx.example.test"}, SelfSigned: true, Key: certs.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		client *tls.Config
		want   tlsalert.Description
	}{
		// The certificate is self-signed: Go's client sends bad_certificate.
		{"unknown authority", &tls.Config{ServerName: "mx.example.test"}, tlsalert.Description(42)},
		{"wrong name", &tls.Config{ServerName: "other.example.test", InsecureSkipVerify: false}, tlsalert.Description(42)},
	} {
		t.Run(c.name, func(t *testing.T) {
			// TCP on loopback, not net.Pipe: each side writes its flight
			// while the other is not reading, which a buffered socket takes.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			done := make(chan error, 1)
			go func() {
				cc, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					done <- err
					return
				}
				defer cc.Close()
				_ = cc.SetDeadline(time.Now().Add(time.Minute))
				done <- tls.Client(cc, c.client).Handshake()
			}()
			sc, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Close()
			_ = sc.SetDeadline(time.Now().Add(time.Minute))
			srvErr := tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}).Handshake()
			if cliErr := <-done; cliErr == nil {
				t.Fatal("the client accepted the certificate")
			}
			a, ok := remoteAlert(srvErr)
			if !ok || a.Description != c.want || a.Level != tlsalert.Fatal {
				t.Fatalf("remoteAlert(%v) = %v, %v; want fatal %v", srvErr, a, ok, c.want)
			}
		})
	}
	for _, err := range []error{nil, io.EOF, errors.New("remote error: tls: bad certificate"), &net.OpError{Op: "read", Err: io.EOF}, &net.OpError{Op: "remote error", Err: io.EOF}} {
		if a, ok := remoteAlert(err); ok {
			t.Errorf("remoteAlert(%v) = %v; want none", err, a)
		}
	}
}
