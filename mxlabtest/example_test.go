package mxlabtest_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"strings"
	"time"

	"github.com/mxlab/mxlab/mxlabtest"
)

// sender is an application's own delivery code, as it might be written
// with net/smtp: look up the recipient domain's MX, dial port 25, use
// STARTTLS when the server offers it (verifying the certificate against
// Roots), and send. The test gives it the lab's resolver, dialer and CA;
// in production they would be the system's.
type sender struct {
	Resolver *net.Resolver
	Dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	Roots    *x509.CertPool
}

func (s sender) send(ctx context.Context, from, to string, msg string) error {
	domain := to[strings.LastIndexByte(to, '@')+1:]
	mxs, err := s.Resolver.LookupMX(ctx, domain)
	if err != nil {
		return err
	}
	host := strings.TrimSuffix(mxs[0].Host, ".")
	conn, err := s.Dial(ctx, "tcp", net.JoinHostPort(host, "25"))
	if err != nil {
		return err
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host, RootCAs: s.Roots}); err != nil {
			return err
		}
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// An application's net/smtp code delivers to a server that does not
// offer STARTTLS. It succeeds, and the lab's record shows what the
// application never said: the message went in plaintext.
func Example_plaintext() {
	lab, err := mxlabtest.New(mxlabtest.Scenarios("no-starttls"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lab.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	app := sender{Resolver: lab.Resolver(), Dial: lab.DialContext, Roots: lab.CertPool()}
	to := "user@" + lab.Scenario("no-starttls").Domain
	err = app.send(ctx, "app@example.test", to, "Subject: hello\r\n\r\nhi\r\n")
	fmt.Println("send error:", err)

	rec, err := lab.WaitSession(ctx, mxlabtest.Filter{Scenario: "no-starttls"})
	if err != nil {
		fmt.Println(err)
		return
	}
	if rec.TLS == nil && rec.Message != nil {
		fmt.Println("caught: the message went in plaintext")
	}
	fmt.Println("lab saw:", rec.Counts)
	fmt.Println("messages kept:", len(lab.Messages()))
	// Output:
	// send error: <nil>
	// caught: the message went in plaintext
	// lab saw: ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
	// messages kept: 1
}

// A client that verifies certificates must refuse the self-signed
// scenario's: the handshake fails on the client's side, the client tells
// the server with an alert, and no message is delivered.
func Example_selfSigned() {
	lab, err := mxlabtest.New(mxlabtest.Scenarios("self-signed"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lab.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	app := sender{Resolver: lab.Resolver(), Dial: lab.DialContext, Roots: lab.CertPool()}
	err = app.send(ctx, "app@example.test", "user@"+lab.Scenario("self-signed").Domain, "Subject: hello\r\n\r\nhi\r\n")
	var unknown x509.UnknownAuthorityError
	fmt.Println("refused the certificate:", errors.As(err, &unknown))

	rec, err := lab.WaitSession(ctx, mxlabtest.Filter{Scenario: "self-signed"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("lab received alert %d %s\n", rec.AlertReceived.Code, rec.AlertReceived.Name)
	fmt.Println("messages kept:", len(lab.Messages()))
	// Output:
	// refused the certificate: true
	// lab received alert 42 bad_certificate
	// messages kept: 0
}
