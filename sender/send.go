package sender

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mxlab/mxlab/dane"
	"github.com/mxlab/mxlab/profiles"
	"github.com/mxlab/mxlab/result"
	"github.com/mxlab/mxlab/tlsalert"
	"github.com/mxlab/mxlab/tlsname"
)

// Options configure one attempt; zero values take the defaults.
type Options struct {
	// Profile is the sender to act as (required).
	Profile *profiles.Profile
	// To is the recipient address (required).
	To string
	// From is the envelope sender (default mxlab@mxlab.invalid).
	From string
	// Resolver answers MX, A and TLSA queries (required unless Server
	// is an IP address and the profile does no DANE); nil uses the
	// system's resolver where one is needed.
	Resolver DNS
	// Server, "host:port", skips the MX lookup and goes there.
	Server string
	// PortFor gives the port for an MX host (the lab's one-port-per-
	// scenario layout); nil or 0 means 25.
	PortFor func(mx string) int
	// Roots are the CAs PKIX verification trusts (nil: the system's).
	Roots *x509.CertPool
	// HELO is the name the sender introduces itself with.
	HELO string
	// Auth, "user:password", authenticates with AUTH PLAIN after TLS.
	Auth string
	// Timeout bounds each network step (default 30s).
	Timeout time.Duration
	// Probe only: stop before MAIL FROM with QUIT.
	Probe bool
	// Now is the clock for certificate checks (nil: time.Now).
	Now func() time.Time
	// HTTPSAddrFor gives the address, host:port, at which to reach an
	// MTA-STS policy host (mta-sts.<domain>); nil, or "" for a host,
	// means the address the resolver gives and port 443 (RFC 8461 §3.3).
	// The lab names its policy hosts' addresses in its manifest.
	HTTPSAddrFor func(host string) string
	// STSCache keeps MTA-STS policies from one attempt to the next, for
	// profiles whose real sender caches them (RFC 8461 §3.3); nil: every
	// attempt is the sender's first to the domain.
	STSCache *STSCache
}

// ErrUsage marks bad input, such as an address that does not parse.
var ErrUsage = errors.New("usage")

// Send makes one delivery attempt as the profile would and reports it.
// Failures on the network end as the profile ends them (in the report);
// the error is for bad usage only.
func Send(ctx context.Context, opts Options) (*Report, error) {
	if opts.Profile == nil {
		return nil, fmt.Errorf("%w: no profile", ErrUsage)
	}
	addr, err := mail.ParseAddress(opts.To)
	if err != nil || !strings.Contains(addr.Address, "@") {
		return nil, fmt.Errorf("%w: recipient %q is not an address: %v", ErrUsage, opts.To, err)
	}
	if opts.From == "" {
		opts.From = "mxlab@mxlab.invalid"
	}
	if opts.HELO == "" {
		opts.HELO = "client.mxlab.invalid"
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &attempt{opts: opts, p: opts.Profile, to: addr.Address,
		rep: &Report{Profile: opts.Profile.Name, To: addr.Address, Steps: []Step{}, Later: []profiles.Later{},
			Inferred: []Inference{}, Transcript: []string{}}}
	a.domain = addr.Address[strings.LastIndex(addr.Address, "@")+1:]
	a.run(ctx)
	return a.rep, nil
}

// attempt is one delivery in progress.
type attempt struct {
	opts   Options
	p      *profiles.Profile
	to     string
	domain string
	rep    *Report

	mx, ip string
	port   int
	tlsa   []dane.Record // usable, authenticated: DANE applies
	alert  *tlsalert.Alert
	reply  string
	// clearAfterAlert: the profile reconnects at once and delivers in
	// plaintext after a failed handshake (Exim's tls_tempfail_tryclear).
	clearAfterAlert bool
	// failure is what ended the attempt, "" while it goes on.
	failure result.Reason
	// mxSecure: the MX answer was authenticated, so DANE applies to its
	// hosts and a failed TLSA lookup cannot be ignored.
	mxSecure bool
	// addrSecure: the MX host's address answer was authenticated.
	addrSecure bool
	// sts is the MTA-STS policy applied to the MX (enforce or testing),
	// nil for none; stsEnforce: it is in enforce mode (RFC 8461 §5).
	sts        *STSPolicy
	stsEnforce bool
	// while is what the sender was doing, in Postfix's words
	// (smtp_proto.c's "where"), for {while} in reaction messages.
	while string
	// session is the TLS session negotiated, nil before or without one.
	session *tls.ConnectionState
	// chunking: the last EHLO reply offered CHUNKING (RFC 3030).
	chunking bool
	// handshakeErr is why a handshake without an alert failed.
	handshakeErr error
}

func (a *attempt) step(s Step) { a.rep.Steps = append(a.rep.Steps, s) }

// ehloStep records an EHLO reply's keywords, with s's other fields, and
// whether it offered CHUNKING (RFC 3030; Exim's K flag, eximK).
func (a *attempt) ehloStep(kws []string, s Step) {
	a.chunking = hasKeyword(kws, "CHUNKING")
	s["step"], s["keywords"] = "ehlo", kws
	a.step(s)
}

// run performs the attempt; every return path has set the outcome.
func (a *attempt) run(ctx context.Context) {
	if !a.locate(ctx) {
		return
	}
	if a.p.Verify.DANE && !a.lookupDANE(ctx) {
		return
	}
	if a.p.Verify.MTASTS && !a.discoverSTS(ctx) {
		return
	}
	// Under an enforced MTA-STS policy the real stack verifies the
	// certificate, so it offers no anonymous suites (Postfix's secure
	// level excludes aNULL, postconf(5) smtp_tls_mandatory_exclude_ciphers).
	if len(a.p.TLS.AnonymousSuites) > 0 && a.p.STARTTLS != profiles.Never && !a.stsEnforce {
		a.probeAnonymous(ctx)
	}
	conn, ok := a.connect(ctx)
	if !ok {
		return
	}
	defer conn.Close()
	c := newClient(conn, a.opts.Timeout, &a.rep.Transcript)
	a.while = "receiving the initial server greeting"
	code, lines, err := c.reply()
	if err != nil {
		a.netFailure(err)
		return
	}
	a.step(Step{"step": "banner", "reply": lastLine(lines)})
	if code != 220 {
		a.react(result.Rejected, lastLine(lines))
		return
	}
	a.while = "performing the EHLO handshake"
	code, lines, err = c.cmd("EHLO " + a.opts.HELO)
	if err != nil {
		a.netFailure(err)
		return
	}
	kws := []string{}
	if code == 250 {
		kws = keywords(lines)
	}
	a.ehloStep(kws, Step{})
	if code != 250 {
		a.react(result.Rejected, lastLine(lines))
		return
	}

	if a.p.STARTTLS == profiles.Never {
		a.deliver(c, false)
		return
	}
	if !hasKeyword(kws, "STARTTLS") {
		if a.tlsRequired() && !a.react(result.STARTTLSNotSupported, "") {
			c.cmd("QUIT")
			return
		}
		a.deliver(c, false)
		return
	}
	a.while = "receiving the STARTTLS response"
	code, lines, err = c.cmd("STARTTLS")
	if err != nil {
		a.netFailure(err)
		return
	}
	a.step(Step{"step": "starttls", "reply": lastLine(lines)})
	if code != 220 {
		// RFC 3207 §4: 454 and the like leave the session in plaintext;
		// whether the sender goes on there is its policy.
		if !a.react(result.STARTTLSRefused, lastLine(lines)) {
			c.cmd("QUIT")
			return
		}
		a.deliver(c, false)
		return
	}
	tc, ok := a.handshake(ctx, conn)
	if !ok {
		if a.rep.Outcome == "" && a.clearAfterAlert {
			a.deliverInClear(ctx)
		}
		return
	}
	defer tc.Close()
	c = newClient(tc, a.opts.Timeout, &a.rep.Transcript)
	if !a.verify(tc) {
		switch r := a.reaction(a.failure); {
		case r.QuitAfterHandshake:
			c.send("QUIT")
		case r.ResetAfterHandshake:
			// SO_LINGER 0: close(2) sends RST (tcp(7)); closing the TCP
			// connection under TLS skips close_notify.
			if t, ok := conn.(*net.TCPConn); ok {
				_ = t.SetLinger(0)
			}
			conn.Close()
			a.rep.Transcript = append(a.rep.Transcript, "sender: reset the connection (no QUIT, no close_notify)")
		}
		return
	}
	code, lines, err = c.cmd("EHLO " + a.opts.HELO)
	if err != nil || code != 250 {
		if err != nil {
			a.netFailure(err)
		} else {
			a.react(result.Rejected, lastLine(lines))
		}
		return
	}
	a.ehloStep(keywords(lines), Step{"tls": true})
	a.deliver(c, true)
}

// tlsRequired says whether missing STARTTLS is a failure: by policy
// (Postfix encrypt), because the certificate must be verified, or because
// usable authenticated TLSA records make TLS mandatory (RFC 7672 §2.2); a
// DANE sender without them is opportunistic; an enforced MTA-STS policy
// requires TLS too (RFC 8461 §5).
func (a *attempt) tlsRequired() bool {
	return a.p.STARTTLS == profiles.Required || a.p.Verify.PKIX || len(a.tlsa) > 0 || a.stsEnforce
}

// locate finds the host, its address and port; false when the attempt
// ended there.
func (a *attempt) locate(ctx context.Context) bool {
	if a.opts.Server != "" {
		host, portStr, err := net.SplitHostPort(a.opts.Server)
		if err != nil {
			host, portStr = a.opts.Server, "25"
		}
		a.mx = host
		a.port, _ = strconv.Atoi(portStr)
	} else {
		if a.opts.Resolver == nil {
			a.finish(result.DNSServfail, "no resolver")
			return false
		}
		hosts, ad, err := a.opts.Resolver.LookupMX(ctx, a.domain)
		a.mxSecure = ad
		a.step(Step{"step": "mx", "answer": hosts, "authenticated": ad})
		if err != nil {
			a.dnsFailure(err)
			return false
		}
		a.mx = hosts[0]
		a.port = 25
		if a.opts.PortFor != nil {
			if p := a.opts.PortFor(a.mx); p != 0 {
				a.port = p
			}
		}
	}
	if ip := net.ParseIP(a.mx); ip != nil {
		a.ip = ip.String()
		return true
	}
	if a.opts.Resolver == nil {
		r, err := SystemResolver()
		if err != nil {
			a.finish(result.DNSServfail, err.Error())
			return false
		}
		a.opts.Resolver = r
	}
	ip, ad, err := a.opts.Resolver.LookupAddr(ctx, a.mx)
	a.addrSecure = ad
	a.step(Step{"step": "address", "host": a.mx, "answer": ipString(ip), "authenticated": ad})
	if err != nil {
		a.dnsFailure(err)
		return false
	}
	a.ip = ip.String()
	return true
}

func ipString(ip net.IP) []string {
	if ip == nil {
		return []string{}
	}
	return []string{ip.String()}
}

// lookupDANE looks up TLSA where a DANE profile would (RFC 7672 §2.2:
// only for an MX whose records are authenticated); false when the
// attempt ended there.
func (a *attempt) lookupDANE(ctx context.Context) bool {
	if net.ParseIP(a.mx) != nil {
		// An address literal has no name to look TLSA up for.
		return true
	}
	owner := fmt.Sprintf("_%d._tcp.%s", a.port, a.mx)
	a.rep.DANE = DANEReport{LookedUp: true, Owner: owner}
	if a.opts.Resolver == nil {
		a.rep.DANE.Result = "no resolver"
		return true
	}
	rrs, ad, err := a.opts.Resolver.LookupTLSA(ctx, a.mx, a.port)
	a.rep.DANE.Authenticated = ad
	for _, rr := range rrs {
		a.rep.DANE.Records = append(a.rep.DANE.Records, fmt.Sprintf("%d %d %d %s", rr.Usage, rr.Selector, rr.MatchingType, rr.Certificate))
	}
	step := Step{"step": "tlsa", "owner": owner, "answer": a.rep.DANE.Records, "authenticated": ad}
	defer func() { a.step(step) }()
	switch {
	case err != nil && (a.mxSecure || a.opts.Server != "" && a.addrSecure):
		// RFC 7672 §2.1.1: the TLSA lookup of a host from a secure MX
		// answer failed (SERVFAIL: bogus signatures, a broken server).
		// The sender cannot tell "no records" from an attack: it defers
		// (Postfix: "TLSA lookup error for host:port", 4.7.5).
		a.rep.DANE.Result = "lookup failed: " + err.Error()
		a.finish(result.DNSSECInvalid, err.Error())
		return false
	case err != nil:
		// An insecure MX answer: DANE does not apply, so neither does
		// the failure (Postfix: "non DNSSEC destination").
		a.rep.DANE.Result = "lookup failed, but the MX answer was not authenticated: DANE does not apply: " + err.Error()
		return true
	case !ad:
		a.rep.DANE.Result = "not authenticated: DANE does not apply, the sender acts as opportunistic"
		return true
	case len(rrs) == 0:
		a.rep.DANE.Result = "no TLSA records: DANE does not apply, the sender acts as opportunistic"
		return true
	}
	recs, err := dane.FromRR(rrs)
	if err != nil {
		a.rep.DANE.Result = "malformed TLSA: " + err.Error()
		return true
	}
	usable, _ := dane.Usable(recs)
	a.rep.DANE.Usable = len(usable)
	if len(usable) == 0 {
		a.rep.DANE.Result = "no usable TLSA records: TLS without authentication"
		return true
	}
	a.tlsa = usable
	return true
}

// connect opens TCP to the host.
func (a *attempt) connect(ctx context.Context) (net.Conn, bool) {
	target := net.JoinHostPort(a.ip, strconv.Itoa(a.port))
	d := net.Dialer{Timeout: a.opts.Timeout}
	conn, err := d.DialContext(ctx, "tcp", target)
	step := Step{"step": "connect", "addr": target}
	if err != nil {
		step["error"] = err.Error()
	}
	a.step(step)
	if err != nil {
		a.netFailure(err)
		return nil, false
	}
	return conn, true
}

// sni is the server name the profile sends.
func (a *attempt) sni() string {
	switch a.p.SNI {
	case profiles.SNIMX:
		return a.mx
	case profiles.SNIDANE:
		if len(a.tlsa) > 0 {
			return a.mx
		}
	case profiles.SNIMTASTS:
		if a.stsEnforce {
			return a.mx
		}
	}
	return ""
}

var tlsVersions = map[string]uint16{"1.0": tls.VersionTLS10, "1.1": tls.VersionTLS11, "1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

// handshake runs the TLS handshake as the profile would start it. The
// certificate is checked afterwards (verify), as MTAs do.
func (a *attempt) handshake(ctx context.Context, conn net.Conn) (*tls.Conn, bool) {
	sni := a.sni()
	cfg := &tls.Config{
		ServerName:         sni,
		InsecureSkipVerify: true, // verified by verify(), per the profile
		MinVersion:         tlsVersions[a.p.TLS.MinVersion],
		MaxVersion:         tlsVersions[a.p.TLS.MaxVersion],
	}
	for _, g := range a.p.TLS.Groups {
		id, _ := tlsname.GroupID(g) // checked when the profile loaded
		cfg.CurvePreferences = append(cfg.CurvePreferences, tls.CurveID(id))
	}
	if below := tlsVersions[a.p.TLS.RefuseBelow]; below != 0 {
		// Offered but not completed: refuse before Finished, as the real
		// stack does once it sees the ServerKeyExchange.
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if cs.Version < below {
				return fmt.Errorf("%w: %s", errRefusedVersion, tls.VersionName(cs.Version))
			}
			return nil
		}
	}
	watch := &alertWatch{Conn: conn}
	tc := tls.Client(watch, cfg)
	hctx, cancel := context.WithTimeout(ctx, a.opts.Timeout)
	defer cancel()
	err := tc.HandshakeContext(hctx)
	var sniSent *string
	if sni != "" {
		sniSent = &sni
	}
	a.rep.TLS = &TLSReport{SNISent: sniSent, PeerCertificates: []CertInfo{}}
	step := Step{"step": "handshake", "sni_sent": sniSent}
	defer func() { a.step(step) }()
	if err != nil {
		alert, ok := tlsalert.FromGoError(err)
		if watch.alert != nil {
			alert, ok = *watch.alert, true
		}
		if ok {
			a.alert = &alert
			a.rep.TLS.AlertReceived = alert.JSON()
			step["alert_received"] = alert.JSON()
			a.rep.Transcript = append(a.rep.Transcript, "TLS: received "+alert.String())
			a.reactTLSAlert()
			return nil, false
		}
		step["error"] = err.Error()
		a.rep.Transcript = append(a.rep.Transcript, "TLS: handshake failed: "+err.Error())
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			a.netFailure(err)
			return nil, false
		}
		if errors.Is(err, errRefusedVersion) {
			a.rep.Transcript = append(a.rep.Transcript, "sender: the real TLS stack refuses this version (profile tls.refuse_below "+a.p.TLS.RefuseBelow+")")
		}
		// Closed or reset with no alert (drop-after-220): a handshake
		// failure, not a lost SMTP connection (Postfix logs "Cannot start
		// TLS: handshake failure" for both, smtp_proto.c).
		a.handshakeErr = err
		a.clearAfterAlert = a.react(result.HandshakeFailed, "")
		return nil, false
	}
	st := tc.ConnectionState()
	a.session = &st
	v, cs := tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)
	a.rep.TLS.Version, a.rep.TLS.Cipher = &v, &cs
	if st.CurveID != 0 {
		g := tlsname.Group(uint16(st.CurveID))
		a.rep.TLS.Group = &g
		step["group"] = g
	}
	step["version"], step["cipher"] = v, cs
	for _, c := range st.PeerCertificates {
		sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
		a.rep.TLS.PeerCertificates = append(a.rep.TLS.PeerCertificates, CertInfo{
			Subject: c.Subject.String(), Issuer: c.Issuer.String(), DNSNames: c.DNSNames,
			NotAfter: c.NotAfter.UTC().Format(time.RFC3339), SPKI256: hex.EncodeToString(sum[:]),
		})
	}
	a.rep.Transcript = append(a.rep.Transcript, fmt.Sprintf("TLS: %s %s, SNI %s", v, cs, orNone(sni)))
	return tc, true
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// reactTLSAlert applies the profile's reaction to an alert, and the
// anonymous-suite inference where the probe showed the real stack would
// have negotiated.
func (a *attempt) reactTLSAlert() {
	for _, inf := range a.rep.Inferred {
		if inf.Step == "handshake" && strings.HasPrefix(inf.What, "negotiates ") {
			a.rep.Inferred = append(a.rep.Inferred, Inference{
				Step: "delivery",
				What: "delivered over anonymous TLS",
				Why:  "Go's crypto/tls got " + a.alert.String() + ", but the server picks an anonymous suite this sender's real TLS stack offers",
			})
			a.rep.Outcome, a.rep.Reason = result.Delivered, result.AnonymousTLS
			a.setText(a.render(a.p.Delivered), "delivered")
			return
		}
	}
	a.clearAfterAlert = a.react(result.TLSAlert, "")
}

// deliverInClear is the second connection of a sender that retries in
// plaintext at once after a TLS failure: banner, EHLO, no STARTTLS.
func (a *attempt) deliverInClear(ctx context.Context) {
	a.rep.Transcript = append(a.rep.Transcript, "sender: reconnecting to deliver without TLS")
	conn, ok := a.connect(ctx)
	if !ok {
		return
	}
	defer conn.Close()
	c := newClient(conn, a.opts.Timeout, &a.rep.Transcript)
	if code, lines, err := c.reply(); err != nil || code != 220 {
		if err != nil {
			a.netFailure(err)
		} else {
			a.react(result.Rejected, lastLine(lines))
		}
		return
	}
	code, lines, err := c.cmd("EHLO " + a.opts.HELO)
	if err != nil || code != 250 {
		if err != nil {
			a.netFailure(err)
		} else {
			a.react(result.Rejected, lastLine(lines))
		}
		return
	}
	a.session = nil
	a.ehloStep(keywords(lines), Step{"reconnect": "plaintext"})
	a.deliver(c, false)
}

// verify checks the certificate as the profile would; false when the
// attempt ended.
func (a *attempt) verify(tc *tls.Conn) bool {
	chain := tc.ConnectionState().PeerCertificates
	pkix := a.pkix(chain)
	a.rep.TLS.PKIX = pkix
	step := Step{"step": "verify", "pkix": pkix}
	defer func() { a.step(step) }()
	if len(a.tlsa) > 0 {
		res := dane.Verify(chain, a.tlsa, []string{a.mx, a.domain}, a.opts.Now())
		if res.Verified {
			a.rep.DANE.Result = "verified"
			step["dane"] = "verified"
			return a.daneChecks(chain)
		}
		a.rep.DANE.Result, a.rep.DANE.Detail = "failed", res.Detail
		step["dane"] = "failed: " + res.Detail
		return a.react(result.TLSAInvalid, "")
	}
	if decided, goOn := a.verifySTS(chain); decided {
		return goOn
	}
	switch pkix {
	case "trusted":
		return true
	case "host-mismatch":
		return a.react(result.CertificateHostMismatch, "")
	case "expired":
		return a.react(result.CertificateExpired, "")
	default:
		return a.react(result.CertificateNotTrusted, "")
	}
}

// daneChecks applies the checks a profile makes beyond RFC 7672 once a
// DANE-EE record matched (Microsoft 365 checks dates and names); false
// when the attempt ended.
func (a *attempt) daneChecks(chain []*x509.Certificate) bool {
	leaf, now := chain[0], a.opts.Now()
	for _, check := range a.p.Verify.DANEChecks {
		switch {
		case check == "validity" && (now.Before(leaf.NotBefore) || now.After(leaf.NotAfter)):
			return a.react(result.CertificateExpired, "")
		case check == "names" && leaf.VerifyHostname(a.mx) != nil:
			return a.react(result.CertificateHostMismatch, "")
		}
	}
	return true
}

// pkix is the chain's verdict: trusted, expired, host-mismatch, or
// not-trusted.
func (a *attempt) pkix(chain []*x509.Certificate) string {
	if len(chain) == 0 {
		return "not-trusted"
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{Roots: a.opts.Roots, Intermediates: inter, CurrentTime: a.opts.Now()}
	if _, err := chain[0].Verify(opts); err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return "expired"
		}
		return "not-trusted"
	}
	if chain[0].VerifyHostname(a.mx) != nil && chain[0].VerifyHostname(a.domain) != nil {
		return "host-mismatch"
	}
	return "trusted"
}

// deliver sends the message (or, probing, QUITs before MAIL FROM).
func (a *attempt) deliver(c *client, overTLS bool) {
	ok := result.Delivered
	if !overTLS {
		ok = result.DeliveredPlaintext
	}
	if a.opts.Probe {
		c.cmd("QUIT")
		a.rep.Outcome, a.rep.Reason = ok, result.Probe
		a.rep.BounceText, a.rep.BounceTextSource = "probe: stopped before MAIL FROM", profiles.Observed
		return
	}
	if a.opts.Auth != "" {
		user, pass, _ := strings.Cut(a.opts.Auth, ":")
		ir := encodePlain(user, pass)
		code, lines, err := c.cmd("AUTH PLAIN " + ir)
		if err != nil {
			a.netFailure(err)
			return
		}
		a.step(Step{"step": "auth", "reply": lastLine(lines)})
		if code != 235 {
			a.react(result.Rejected, lastLine(lines))
			c.cmd("QUIT")
			return
		}
	}
	phases := []string{"sending MAIL FROM", "sending RCPT TO", "sending DATA command"}
	for i, line := range []string{"MAIL FROM:<" + a.opts.From + ">", "RCPT TO:<" + a.to + ">", "DATA"} {
		a.while = phases[i]
		code, lines, err := c.cmd(line)
		if err != nil {
			a.netFailure(err)
			return
		}
		want := 250
		if line == "DATA" {
			want = 354
		}
		if code != want {
			a.step(Step{"step": strings.ToLower(strings.Fields(line)[0]), "reply": lastLine(lines)})
			a.rejected(code, lastLine(lines))
			c.cmd("QUIT")
			return
		}
	}
	msg := fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: mxlab test from %s\r\nDate: %s\r\nMessage-ID: <%d.%s>\r\n\r\nA test message sent by mxlab as %s.\r\n.",
		a.opts.From, a.to, a.p.Name, a.opts.Now().Format(time.RFC1123Z), a.opts.Now().UnixNano(), a.opts.HELO, a.p.Title)
	a.while = "sending end of data -- message may be sent more than once"
	code, lines, err := c.cmd(msg)
	if err != nil {
		a.netFailure(err)
		return
	}
	a.step(Step{"step": "data", "reply": lastLine(lines)})
	if code != 250 {
		a.rejected(code, lastLine(lines))
		c.cmd("QUIT")
		return
	}
	c.cmd("QUIT")
	a.reply = lastLine(lines)
	a.rep.Outcome, a.rep.Reason = ok, ""
	if overTLS && a.rep.Outcome == result.Delivered && len(a.tlsa) > 0 {
		a.rep.Reason = result.DANEVerified
	}
	a.setText(a.render(a.p.Delivered), "delivered")
	if !overTLS && a.p.DeliveredPlaintext != "" {
		a.setText(a.render(a.p.DeliveredPlaintext), "delivered")
	}
}

func (a *attempt) rejected(code int, line string) {
	if code >= 500 {
		a.react(result.Rejected, line)
		return
	}
	a.reply = line
	a.rep.Outcome, a.rep.Reason = result.Deferred, result.RejectedTemporarily
	a.rep.BounceText, a.rep.BounceTextSource = line, profiles.Observed
}

// react applies the profile's reaction to a failure; it returns true when
// the sender carries on (the reaction's outcome is a delivery).
func (a *attempt) react(f result.Reason, reply string) bool {
	r := a.reaction(f)
	if reply != "" {
		a.reply = reply
	}
	a.rep.Transcript = append(a.rep.Transcript, "sender: "+string(f)+" -> "+string(r.Outcome))
	a.stsFailure(f)
	if r.Outcome == result.Delivered || r.Outcome == result.DeliveredPlaintext {
		// The sender carries on; what it logs about it is part of the
		// story, its final status comes with the delivery, and what it
		// says of later attempts stays (a failed MTA-STS fetch: what a
		// cached policy would change).
		if r.Message != "" {
			a.rep.Transcript = append(a.rep.Transcript, "sender logs: "+a.render(r.Message))
		}
		a.rep.Later = append(a.rep.Later, r.Later...)
		return true
	}
	a.finish(f, "")
	return false
}

// reaction is the profile's reaction to f: its DANE variant where DANE
// applies to the MX, its STS variant under an enforced MTA-STS policy.
func (a *attempt) reaction(f result.Reason) profiles.Reaction {
	if v := a.variant(f); v != nil {
		return *v
	}
	return a.p.On[f]
}

// variant is the variant of the profile's reaction to f that applies,
// nil for none.
func (a *attempt) variant(f result.Reason) *profiles.Reaction {
	r := a.p.On[f]
	switch {
	case r.DANE != nil && len(a.tlsa) > 0:
		return r.DANE
	case r.STS != nil && a.stsEnforce:
		return r.STS
	}
	return nil
}

// finish sets the outcome from the profile's reaction to f.
func (a *attempt) finish(f result.Reason, detail string) {
	r := a.reaction(f)
	a.failure = f
	a.rep.Outcome, a.rep.Reason = r.Outcome, f
	a.rep.Later = append(a.rep.Later, r.Later...)
	a.setText(a.render(r.Message), "on."+string(f))
	if v := a.variant(f); v != nil && v.Assumed != "" {
		// A DANE or MTA-STS variant that says it is assumed: the key's
		// evidence is about the sender's other words, not these.
		a.rep.BounceTextSource = profiles.Reconstructed
	}
	if a.rep.BounceText == "" {
		a.rep.BounceText, a.rep.BounceTextSource = detail, profiles.Observed
	}
}

func (a *attempt) dnsFailure(err error) {
	if errors.Is(err, ErrNXDomain) {
		a.finish(result.DNSNXDomain, err.Error())
		return
	}
	a.finish(result.DNSServfail, err.Error())
}

func (a *attempt) netFailure(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		a.finish(result.ConnectRefused, err.Error())
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		a.finish(result.Timeout, err.Error())
	default:
		// A connection the server dropped mid-dialogue: MTAs defer
		// ("lost connection", smtp_trouble.c), each in its own words.
		a.finish(result.ConnectionLost, err.Error())
	}
}

// render expands a profile message template.
func (a *attempt) render(tmpl string) string {
	vars := []string{
		"{mx}", a.mx, "{ip}", a.ip, "{port}", strconv.Itoa(a.port), "{domain}", a.domain, "{reply}", a.reply,
		"{reply_dsn}", replyDSN(a.reply), "{reply_text}", replyText(a.reply), "{while}", a.while, "{mx_short}", shortName(a.mx+".", 40),
	}
	if a.session != nil {
		desc, _ := gnutlsSession(*a.session, a.p.TLS.Groups)
		vars = append(vars, "{gnutls_session}", desc, "{exim_cv}", a.eximCV(), "{peer_dn}", a.peerDN())
	}
	vars = append(vars, "{exim_k}", a.eximK())
	if a.handshakeErr != nil {
		vars = append(vars, "{openssl_reason}", opensslReason(a.handshakeErr))
	}
	if a.alert != nil {
		d := a.alert.Description
		vars = append(vars,
			"{alert}", strconv.Itoa(int(d)),
			"{alert_name}", d.String(),
			"{ALERT_NAME}", strings.ToUpper(d.String()),
			"{alert_words}", d.Words(),
			// BoringSSL: ERR_LIB_SSL (0x10) << 24 | SSL_AD_REASON_OFFSET (1000) + alert.
			"{boringssl}", fmt.Sprintf("%08X", 0x10000000+1000+int(d)),
			// OpenSSL 3: ERR_LIB_SSL (20) << 23 | SSL_AD_REASON_OFFSET (1000) + alert.
			"{openssl3}", fmt.Sprintf("%08X", 20<<23+1000+int(d)),
		)
	}
	return strings.NewReplacer(vars...).Replace(tmpl)
}

// alertWatch notes a plaintext alert the server sends during the
// handshake, exactly as it came (crypto/tls reports only its words).
type alertWatch struct {
	net.Conn
	scan  tlsalert.Scanner
	alert *tlsalert.Alert
}

func (w *alertWatch) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	if a := w.scan.Feed(p[:n]); a != nil && w.alert == nil {
		w.alert = a
	}
	return n, err
}

// replyDSN is a reply's enhanced status code (RFC 3463), or the one its
// basic code implies (x.0.0), as Postfix puts in dsn=.
func replyDSN(reply string) string {
	f := strings.Fields(reply)
	if len(f) == 0 || len(f[0]) < 3 {
		return ""
	}
	if len(f) > 1 && enhancedRE.MatchString(f[1]) {
		return f[1]
	}
	return f[0][:1] + ".0.0"
}

var enhancedRE = regexp.MustCompile(`^[245]\.\d{1,3}\.\d{1,3}$`)

// replyText is a reply without its code and enhanced code, as sendmail
// quotes the server in stat=Sent (...) (measured: "stat=Sent (Ok: queued
// as C17C6C00004)" for "250 2.0.0 Ok: queued as C17C6C00004",
// TestFidelitySendmail).
func replyText(reply string) string {
	f := strings.Fields(reply)
	if len(f) == 0 || len(f[0]) < 3 {
		return reply
	}
	rest := strings.TrimSpace(reply[len(f[0]):])
	if len(f) > 1 && enhancedRE.MatchString(f[1]) {
		rest = strings.TrimSpace(rest[len(f[1]):])
	}
	return rest
}

// shortName shortens a name for a log line as sendmail does (util.c
// shortenstring: a name of m characters or more keeps its first and last
// (m-3)/2 characters around "..."); sendmail logs relay= with m = 40
// (measured: TestFidelitySendmail, sni-reject's 42-character MX name
// logged as "_dc-mx.17f68f781ed...reject.mxlab.test.").
func shortName(s string, m int) string {
	if len(s) < m {
		return s
	}
	half := (m - 3) / 2
	return s[:half] + "..." + s[len(s)-half:]
}

// errRefusedVersion ends a handshake the profile's real stack would not
// complete (profiles.TLSOffer.RefuseBelow).
var errRefusedVersion = errors.New("legacy sigalg disallowed or unsupported")

// setText sets the predicted text and where it comes from: the evidence
// of the profile's behaviour key.
func (a *attempt) setText(text, key string) {
	a.rep.BounceText, a.rep.BounceTextSource = text, a.p.TextProvenance(key)
}
