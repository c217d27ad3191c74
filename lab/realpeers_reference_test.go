package lab_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mxlab/mxlab/certs"
	"github.com/mxlab/mxlab/internal/netns"
	"github.com/mxlab/mxlab/internal/realpeer"
)

// refServer is a real server with the misconfiguration a scenario
// imitates, running in a network namespace the test made (gnutls-serv
// binds every address on a fixed port; the namespace keeps it private).
type refServer struct {
	ns   *netns.NS
	proc *netns.Proc
	addr string
}

// Reference servers' ports inside the namespace.
const (
	gnutlsServAddr   = "127.0.0.1:5556"
	sServerNoCert    = "127.0.0.1:4433"
	sServerWithCert  = "127.0.0.1:4434"
	referenceTimeout = "120" // seconds, the bound on every reference server
)

// refCert issues a certificate for a reference server with the certs
// package (ECDSA: quick to make; what is compared here happens before or
// regardless of the key type).
func refCert(t *testing.T, name string, selfSigned bool) *certs.Leaf {
	t.Helper()
	store, err := certs.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := store.Leaf(certs.LeafSpec{Name: "reference", DNSNames: []string{name}, SelfSigned: selfSigned, Key: certs.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

// startGnuTLSServ runs gnutls-serv, GnuTLS's test server with its default
// priority (NORMAL, what Exim uses unless tls_require_ciphers is set): it
// refuses the same SNIs as Exim with GnuTLS.
func startGnuTLSServ(t *testing.T, ns *netns.NS) *refServer {
	t.Helper()
	bin := realpeer.Need(t, realpeer.GnuTLSServ)
	leaf := refCert(t, "mail.sni-reject.mxlab.test", false)
	// timeout leads: it makes its own process group, and that group is
	// what the namespace kills at cleanup.
	p := ns.Start(t, "timeout", referenceTimeout, bin, "--x509certfile", leaf.CertPath, "--x509keyfile", leaf.KeyPath, "-p", "5556")
	return waitRef(t, ns, p, gnutlsServAddr)
}

// startSServerNoCert runs openssl s_server -nocert: sendmail with
// STARTTLS on and no certificate.
func startSServerNoCert(t *testing.T, ns *netns.NS) *refServer {
	t.Helper()
	return startSServer(t, ns, sServerNoCert, "-nocert")
}

// startSServerSelfSigned runs openssl s_server with a self-signed
// certificate: the OpenSSL server side of Postfix (and sendmail).
func startSServerSelfSigned(t *testing.T, ns *netns.NS, name string) *refServer {
	t.Helper()
	leaf := refCert(t, name, true)
	return startSServer(t, ns, sServerWithCert, "-cert", leaf.CertPath, "-key", leaf.KeyPath)
}

// startSServer runs openssl s_server on addr. s_server quits when its
// stdin ends, so it reads an idle pipe.
func startSServer(t *testing.T, ns *netns.NS, addr string, args ...string) *refServer {
	t.Helper()
	bin := realpeer.Need(t, realpeer.OpenSSL)
	cmd := "sleep " + referenceTimeout + " | exec " + bin + " s_server -accept " + addr + " " + strings.Join(args, " ")
	p := ns.Start(t, "timeout", referenceTimeout, "sh", "-c", cmd)
	return waitRef(t, ns, p, addr)
}

// waitRef waits until the reference server accepts connections.
func waitRef(t *testing.T, ns *netns.NS, p *netns.Proc, addr string) *refServer {
	t.Helper()
	c, err := ns.WaitDial(addr, 10*time.Second)
	if err != nil {
		t.Fatalf("reference server on %s in %s: %v\n%s", addr, ns.Name, err, p.Output())
	}
	c.Close()
	return &refServer{ns: ns, proc: p, addr: addr}
}

// mark is where the reference server's log stands now.
func (r *refServer) mark() int { return len(r.proc.Output()) }

// logged waits for the reference server to log text after offset (it
// logs a refused handshake a moment after closing).
func (r *refServer) logged(text string, offset int) bool {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(r.proc.Output()[offset:], text) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// since is what the reference server logged after offset.
func (r *refServer) since(offset int) string { return r.proc.Output()[offset:] }
