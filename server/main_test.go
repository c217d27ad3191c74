package server

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxlab/mxlab/certs"
	"github.com/mxlab/mxlab/internal/smtpexpect"
	"github.com/mxlab/mxlab/scenarios"
)

var (
	pkiOnce  sync.Once
	pki      *certs.Store
	pkiDir   string
	catOnce  sync.Once
	cat      *scenarios.Catalogue
	pkiError error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pkiDir != "" {
		os.RemoveAll(pkiDir)
	}
	os.Exit(code)
}

// testPKI is one lab CA shared by the package's tests (keys are slow).
func testPKI(t testing.TB) *certs.Store {
	t.Helper()
	pkiOnce.Do(func() {
		pkiDir, pkiError = os.MkdirTemp("", "mxlab-server-test-")
		if pkiError == nil {
			pki, pkiError = certs.Open(pkiDir, nil)
		}
	})
	if pkiError != nil {
		t.Fatal(pkiError)
	}
	return pki
}

func catalogue(t testing.TB) *scenarios.Catalogue {
	t.Helper()
	catOnce.Do(func() {
		var err error
		if cat, err = scenarios.Builtin(); err != nil {
			panic(err)
		}
	})
	return cat
}

// testServer runs a built-in scenario on 127.0.0.1:0 with the names the
// lab would give it in zone mxlab.test.
type testServer struct {
	*Server
	addr     string
	sessions *SessionLog
	ca       *x509.CertPool
	mx, host string
}

func startScenario(t testing.TB, name string, edit func(*scenarios.Scenario, *Config)) *testServer {
	t.Helper()
	c := catalogue(t)
	sc, err := c.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	copied := *sc
	d, err := c.Dialect(sc.Imitates)
	if err != nil {
		t.Fatal(err)
	}
	domain := name + ".mxlab.test"
	mx := strings.ReplaceAll(sc.MX, "{hex12}", "7c74f8d3197f") + "." + domain
	host := strings.ReplaceAll(sc.Host, "{hex12}", "7c74f8d3197f") + "." + domain
	store := testPKI(t)
	sessions, err := NewSessionLog("", 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Scenario: &copied, Dialect: d, Host: host, Sessions: sessions,
		Timeouts: Timeouts{Command: 5 * time.Second, Handshake: 5 * time.Second}}
	if sc.TLS.Certificate != scenarios.CertNone {
		names := []string{}
		for _, n := range sc.TLS.Names {
			names = append(names, strings.NewReplacer("{mx}", mx, "{host}", host, "{domain}", domain).Replace(n))
		}
		leaf, err := store.Leaf(certs.LeafSpec{Name: name, DNSNames: names, SelfSigned: sc.TLS.Certificate == scenarios.CertSelfSigned, Key: certs.ECDSAP256})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificate = &leaf.TLS
	}
	if edit != nil {
		edit(&copied, &cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &testServer{Server: srv, addr: ln.Addr().String(), sessions: sessions, ca: store.CAPool(), mx: mx, host: host}
}

// lastRecord waits for the session that ended last.
func (ts *testServer) waitRecords(t testing.TB, n int) []Record {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		recs := ts.sessions.Records()
		if len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d session records after 5s, want %d", len(recs), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func clientTLS(ts *testServer, serverName string) *tls.Config {
	return &tls.Config{RootCAs: ts.ca, ServerName: serverName}
}

func certsSpec(name string) certs.LeafSpec {
	return certs.LeafSpec{Name: name, DNSNames: []string{name}, Key: certs.ECDSAP256}
}

// greeted opens a dialogue past the banner and EHLO.
func (ts *testServer) greeted(t testing.TB) *smtpexpect.Dialogue {
	t.Helper()
	d := smtpexpect.Dial(t, ts.addr)
	d.Expect(220)
	d.Cmd("EHLO client.example", 250)
	return d
}
