package lab_test

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/mxlab/mxlab/certs"
	"github.com/mxlab/mxlab/internal/netns"
	"github.com/mxlab/mxlab/internal/realpeer"
	"github.com/mxlab/mxlab/lab"
)

// A reference server for a certificate or version knob is openssl
// s_server (the TLS of Postfix and sendmail) serving the very files the
// lab serves: the leaf, chain and key the lab's PKI issued for the
// scenario (certs.Store.Leaf with the scenario's spec; Site.CertPath is
// leaf then chain as served, the key beside it), so that only the server
// differs.

// sServerRefBase is the first port of these reference servers inside the
// test's namespace (one per scenario).
const sServerRefBase = 4440

// startSServerServing runs s_server with a site's certificate files and
// extra arguments.
func startSServerServing(t *testing.T, ns *netns.NS, s *lab.Site, port int, extra ...string) *refServer {
	t.Helper()
	served, err := certs.ReadCerts(s.CertPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pemOf := func(i, j int) []byte {
		var b bytes.Buffer
		for _, c := range served[i:j] {
			_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
		return b.Bytes()
	}
	leaf := filepath.Join(dir, "leaf.pem")
	if err := os.WriteFile(leaf, pemOf(0, 1), 0o600); err != nil {
		t.Fatal(err)
	}
	// certs.Store keeps a leaf's key beside its certificate file.
	args := []string{"-cert", leaf, "-key", filepath.Join(filepath.Dir(s.CertPath), "key.pem")}
	if len(served) > 1 {
		chain := filepath.Join(dir, "chain.pem")
		if err := os.WriteFile(chain, pemOf(1, len(served)), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-cert_chain", chain)
	}
	return startSServer(t, ns, fmt.Sprintf("127.0.0.1:%d", port), append(args, extra...)...)
}

// sClientInNS runs s_client in the namespace against a reference server.
func sClientInNS(t *testing.T, ns *netns.NS, openssl, addr string, args ...string) realpeer.Result {
	t.Helper()
	return realpeer.Run(t, realpeer.Cmd{Path: "ip", Args: append([]string{"netns", "exec", ns.Name, openssl, "s_client", "-connect", addr}, args...), Timeout: peerTimeout})
}

var sClientLeafRE = regexp.MustCompile(`(?s)-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----`)

// sClientCertView is what s_client shows of a server's certificate.
type sClientCertView struct {
	subject, issuer, verify, leaf string
	depth                         int
	errors                        []string
}

func viewCert(run realpeer.Result) sClientCertView {
	out := run.All()
	first := func(re *regexp.Regexp) string {
		if m := re.FindStringSubmatch(out); m != nil {
			return m[1]
		}
		return ""
	}
	v := sClientCertView{subject: first(sClientSubjectRE), issuer: first(sClientIssuerRE), verify: first(sClientVerifyRE),
		leaf: sClientLeafRE.FindString(run.Stdout), depth: len(sClientDepthRE.FindAllString(out, -1))}
	for _, m := range sClientVerifyErr.FindAllStringSubmatch(run.Stderr, -1) {
		v.errors = append(v.errors, m[1])
	}
	return v
}

// TestRealPeersReferenceCertificates: for every scenario whose
// certificate knobs make OpenSSL's verification fail (expired, another
// name, no chain, an untrusted or no issuer), s_client gets the same
// certificate, chain depth, verify errors and verify result from the lab
// and from openssl s_server serving the same files, in the same run; and
// both agree with what the knobs say.
func TestRealPeersReferenceCertificates(t *testing.T) {
	openssl := realpeer.Need(t, realpeer.OpenSSL)
	realpeer.NeedNetns(t)
	l := startLab(t)
	ns := netns.New(t)
	ca := l.Layout().CACert
	n := 0
	for i, s := range l.Layout().Scenarios {
		want := sClientExpect(t, l, s, "default", false)
		if want.stage != stageTLS || want.hs.version == 0 || want.verify == "0 (ok)" {
			continue
		}
		n++
		t.Run(s.Name, func(t *testing.T) {
			if c := certificate(t, l, s); !c.agrees(leafOf(t, s)) {
				t.Fatalf("the served certificate's dates (%s to %s) do not say what the knobs say", leafOf(t, s).NotBefore, leafOf(t, s).NotAfter)
			}
			ref := startSServerServing(t, ns, s, sServerRefBase+i)
			args := []string{"-CAfile", ca, "-verify_hostname", verifyName(s), "-noservername"}
			refRun := sClientInNS(t, ns, openssl, ref.addr, args...)
			labRun := realpeer.Run(t, realpeer.Cmd{Path: openssl, Args: append([]string{"s_client", "-starttls", "smtp", "-connect", s.SMTP}, args...), Timeout: peerTimeout})
			refView, labView := viewCert(refRun), viewCert(labRun)
			if refView.leaf == "" || refView.leaf != labView.leaf {
				t.Errorf("the lab and the reference serve different certificates")
			}
			refView.leaf, labView.leaf = "", ""
			t.Logf("reference and lab: %+v", refView)
			if !viewsEqual(refView, labView) {
				t.Errorf("s_client sees\n lab       %+v\n reference %+v", labView, refView)
			}
			knobs := sClientCertView{subject: want.subject, issuer: want.issuer, verify: want.verify, depth: want.depth, errors: want.verifyErrors}
			if !viewsEqual(refView, knobs) {
				t.Errorf("the reference shows %+v, the knobs say %+v", refView, knobs)
			}
		})
	}
	if n == 0 {
		t.Fatal("no scenario in the catalogue has a certificate that fails verification")
	}
}

func viewsEqual(a, b sClientCertView) bool {
	return a.subject == b.subject && a.issuer == b.issuer && a.verify == b.verify && a.depth == b.depth && slices.Equal(a.errors, b.errors)
}

// sClientHandshake is how an s_client handshake ended, from its -msg
// output: the alert record it received, the ServerHello's record version,
// the alert it sent, OpenSSL's reason and the version agreed.
type sClientHandshake struct {
	alertRecord, serverHello, sentAlert, reason, protocol string
}

var sClientReasonRE = regexp.MustCompile(`error:[0-9A-F]+:SSL routines:[^:]*:([^:]+):`)

func viewHandshake(run realpeer.Result) sClientHandshake {
	var h sClientHandshake
	if m := sClientAlertRE.FindStringSubmatch(run.Stdout); m != nil {
		h.alertRecord = m[1] + " " + m[4]
	}
	if m := sClientServerHelloRE.FindStringSubmatch(run.Stdout); m != nil {
		h.serverHello = m[1] + m[2]
	}
	if m := sClientSentAlertRE.FindStringSubmatch(run.Stdout); m != nil {
		h.sentAlert = m[1]
	}
	if m := sClientReasonRE.FindStringSubmatch(run.Stderr); m != nil {
		h.reason = m[1]
	}
	if m := sClientNewRE.FindStringSubmatch(run.Stdout); m != nil && m[1] != "(NONE)" {
		h.protocol = "?"
		if p := sClientProtocolRE.FindStringSubmatch(run.Stdout); p != nil {
			h.protocol = p[1]
		}
	}
	return h
}

// TestRealPeersReferenceVersions: for every scenario whose knobs bound
// the TLS versions (and refuse no ClientHello before that), s_client in
// each mode gets the same answer from the lab and from openssl s_server
// with the same bounds and certificate, in the same run: the same alert
// record, the same ServerHello version, the same alert and reason from
// s_client, the same version agreed; and both agree with negotiate. The
// reference runs at security level 0, as the old server such a scenario
// imitates: OpenSSL 3 at its default level cannot sign a TLS 1.0 or 1.1
// ServerKeyExchange at all and answers internal_error ("no suitable
// signature algorithm", measured).
func TestRealPeersReferenceVersions(t *testing.T) {
	openssl := realpeer.Need(t, realpeer.OpenSSL)
	realpeer.NeedNetns(t)
	l := startLab(t)
	ns := netns.New(t)
	protocol := map[uint16]string{tls10: "TLSv1", tls11: "TLSv1.1", tls12: "TLSv1.2", tls13: "TLSv1.3"}
	modes := map[string][]string{
		"default": nil, "tls1_2": {"-tls1_2"}, "tls1_3": {"-tls1_3"}, "tls1": {"-tls1", "-cipher", "DEFAULT@SECLEVEL=0"},
	}
	n := 0
	for i, s := range l.Layout().Scenarios {
		sc := s.Scenario()
		if sc.TLS.MinVersion == "" && sc.TLS.MaxVersion == "" || !readsClientHello(sc) || len(rejectRules(t, sc)) > 0 || s.CertPath == "" {
			continue
		}
		n++
		t.Run(s.Name, func(t *testing.T) {
			lo, hi := versionWindow(sc)
			extra := []string{"-min_protocol", protocol[lo], "-max_protocol", protocol[hi]}
			if lo < tls12 {
				extra = append(extra, "-cipher", "DEFAULT@SECLEVEL=0")
			}
			ref := startSServerServing(t, ns, s, sServerRefBase+i, extra...)
			for _, mode := range []string{"default", "tls1_2", "tls1_3", "tls1"} {
				t.Run(mode, func(t *testing.T) {
					args := append([]string{"-msg", "-noservername"}, modes[mode]...)
					refRun := sClientInNS(t, ns, openssl, ref.addr, args...)
					since := mark(l)
					labRun := realpeer.Run(t, realpeer.Cmd{Path: openssl, Args: append([]string{"s_client", "-starttls", "smtp", "-connect", s.SMTP}, args...), Timeout: peerTimeout})
					nextRecord(t, l, since, s.Name)
					refH, labH := viewHandshake(refRun), viewHandshake(labRun)
					t.Logf("reference %+v, lab %+v", refH, labH)
					if labH != refH {
						t.Errorf("s_client's handshake:\n lab       %+v\n reference %+v", labH, refH)
					}
					hs := negotiate(t, sc, opensslClient(mode, ""))
					var want sClientHandshake
					switch {
					case hs.sent:
						want.alertRecord = recordHex(hs.serverAlert, hs.alertVersion)
					case hs.received:
						want.serverHello, want.sentAlert, want.reason = fmt.Sprintf("%04x", hs.serverHello), hs.clientAlert.String(), hs.reason
					default:
						want.serverHello, want.protocol = fmt.Sprintf("%04x", hs.version), opensslVersion(hs.version)
					}
					if hs.sent {
						refH.reason = "" // s_client's words for a received alert are checked in TestRealPeersOpenSSL
					}
					if hs.version == tls13 { // a TLS 1.3 ServerHello's record says 03 03
						refH.serverHello = want.serverHello
					}
					if refH != want {
						t.Errorf("the reference shows %+v, the knobs say %+v", refH, want)
					}
				})
			}
		})
	}
	if n == 0 {
		t.Fatal("no scenario in the catalogue bounds the TLS versions")
	}
}
