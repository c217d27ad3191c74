package dnslab

import (
	"context"
	"log/slog"
	"net"
	"strconv"

	"github.com/miekg/dns"
)

// udpSize is the UDP payload size the server advertises in its OPT record:
// 1232, the DNS Flag Day 2020 value, which no path fragments.
const udpSize = 1232

// handler answers queries from a compiled zone; it holds no mutable state,
// so one handler serves every connection at once.
type handler struct {
	ix  *index
	log *slog.Logger
}

// NewHandler returns a dns.Handler that answers from a snapshot of z the way
// the package documentation describes, logging each query at debug level to
// log (nil: no logging).
//
// A zone that fails [Zone.Validate] is still served, as far as it can be,
// with a warning: [Start] is where a bad zone is an error.
func NewHandler(z *Zone, log *slog.Logger) dns.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := z.Validate(); err != nil {
		log.Warn("dnslab: serving a zone that does not validate", "err", err)
	}
	h, err := newHandler(z, log)
	if err != nil {
		// Only keys that cannot sign get here; [Start] reports it.
		log.Error("dnslab: serving the zone unsigned", "err", err)
		unsigned := *z
		unsigned.Keys = nil
		h, _ = newHandler(&unsigned, log)
	}
	return h
}

// newHandler compiles and signs z; it fails when the keys cannot sign.
func newHandler(z *Zone, log *slog.Logger) (*handler, error) {
	ix, err := compile(z)
	if err != nil {
		return nil, err
	}
	return &handler{ix: ix, log: log}, nil
}

// ServeDNS answers one query. It must not panic on any message that
// unpacks, whatever its sections hold: FuzzHandler holds it to that.
func (h *handler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	// A response is never answered (RFC 1035 §4.1.1 QR): two servers
	// answering each other's answers would loop.
	if r.Response {
		return
	}
	m := h.respond(r)
	// A TCP message may be 65535 bytes (RFC 1035 §4.2.2); over UDP the
	// limit is the client's advertised payload size, 512 without EDNS
	// (RFC 1035 §4.2.1, RFC 6891 §6.2.5). What does not fit is dropped
	// and TC set, so the client retries over TCP (RFC 7766 §5).
	if _, tcp := w.LocalAddr().(*net.TCPAddr); tcp {
		m.Truncate(dns.MaxMsgSize)
	} else {
		m.Truncate(clientUDPSize(r))
	}
	err := w.WriteMsg(m)
	h.logQuery(w, r, m, err)
}

// respond builds the response to the query r, every section and flag
// except truncation.
func (h *handler) respond(r *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)

	opt, nopt := queryOPT(r)
	if nopt > 1 {
		// RFC 6891 §6.1.1: more than one OPT record is FORMERR, and
		// which OPT to echo is unknowable, so none is.
		m.Rcode = dns.RcodeFormatError
		return m
	}
	if opt != nil {
		// RFC 6891 §6.1.1, §7: a response to a query with EDNS carries
		// an OPT record; the DO bit is copied back (RFC 3225 §3).
		m.SetEdns0(udpSize, opt.Do())
	}
	// DO asks for the DNSSEC records (RFC 4035 §3.1.1, RFC 3225 §3).
	do := opt != nil && opt.Do()
	// A validating resolver sets AD only for a client that showed it
	// understands it, by DO (RFC 4035 §3.2.3) or by AD in the query
	// (RFC 6840 §5.7); Postfix sends both. The server stands in for one
	// only in ModeAD; in ModeSigned it is an authoritative server, which
	// never sets AD (RFC 4035 §3.1.6: that is the resolver's to set).
	wantAD := (do || r.AuthenticatedData) && h.ix.mode == ModeAD

	switch {
	case r.Opcode != dns.OpcodeQuery:
		m.Rcode = dns.RcodeNotImplemented // RFC 1035 §4.1.1: only QUERY is served
		return m
	case opt != nil && opt.Version() != 0:
		m.Rcode = dns.RcodeBadVers // RFC 6891 §6.1.3
		return m
	case len(r.Question) != 1:
		// RFC 9619: a QUERY has exactly one question.
		m.Rcode = dns.RcodeFormatError
		return m
	}
	q := r.Question[0]
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		m.Rcode = dns.RcodeRefused // the lab has data only in IN
		return m
	}
	qname := dns.CanonicalName(q.Name)

	if qname == "." && q.Qtype == dns.TypeNS {
		// Postfix's dnssec_probe (default "ns:.") asks this and trusts
		// the resolver's DNSSEC only if the answer has AD. The server
		// is not an authority for the root, so no AA (RFC 1035
		// §4.1.1), but it answers as a resolver would: RA, and AD.
		m.RecursionAvailable = true
		m.AuthenticatedData = wantAD
		m.Answer = []dns.RR{&dns.NS{
			Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: h.ix.ttl},
			Ns:  "ns." + h.ix.origin,
		}}
		return m
	}
	if !h.ix.inZone(qname) {
		// No recursion for names outside the lab: REFUSED, and no RA,
		// as a resolver that does not recurse for this client answers
		// (RFC 1035 §4.1.1).
		m.Rcode = dns.RcodeRefused
		return m
	}
	if q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR {
		// Zone transfers are not offered (RFC 5936 §4.2 lets a server
		// refuse them); a NODATA answer would look like a broken one.
		m.Rcode = dns.RcodeRefused
		return m
	}

	res := h.ix.resolve(q.Name, q.Qtype, do)
	// RA too in ModeAD: clients use the lab server as their resolver,
	// and dig warns "recursion requested but not available" without it.
	// In ModeSigned it is an authoritative server that does not recurse
	// (RFC 1035 §4.1.1), as the zone's servers are to a resolver.
	m.RecursionAvailable = h.ix.mode == ModeAD
	if res.bogus && h.ix.mode == ModeAD && !r.CheckingDisabled {
		// What a validating resolver answers for an RRset whose
		// signature does not verify (RFC 4035 §5.5): SERVFAIL, and
		// nothing of the data, unless the client asked to check it
		// itself with CD (RFC 4035 §3.2.2). Unbound and BIND add the
		// extended error "DNSSEC Bogus" (RFC 8914 §4.7).
		m.Rcode = dns.RcodeServerFailure
		if opt := m.IsEdns0(); opt != nil {
			opt.Option = append(opt.Option, &dns.EDNS0_EDE{
				InfoCode:  dns.ExtendedErrorCodeDNSBogus,
				ExtraText: "signature of " + dns.CanonicalName(q.Name) + " " + dns.Type(q.Qtype).String() + " does not verify",
			})
		}
		return m
	}
	m.Authoritative = true
	m.Rcode = res.rcode
	m.Answer = res.answer
	m.Ns = res.ns
	// Positive and negative answers alike: a validating resolver sets AD
	// on a proven NXDOMAIN or NODATA too (RFC 4035 §3.2.3), and Postfix
	// takes a secure "no TLSA" to mean DANE does not apply. A bogus
	// answer let through by CD is not secure.
	m.AuthenticatedData = wantAD && res.secure && !res.bogus
	return m
}

// queryOPT returns the query's OPT record and how many it has.
func queryOPT(r *dns.Msg) (*dns.OPT, int) {
	var opt *dns.OPT
	n := 0
	for _, rr := range r.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			opt = o
			n++
		}
	}
	return opt, n
}

// clientUDPSize is the largest UDP response the client accepts: its OPT's
// payload size, never less than 512 (RFC 6891 §6.2.5), or 512 without EDNS
// (RFC 1035 §4.2.1).
func clientUDPSize(r *dns.Msg) int {
	size := dns.MinMsgSize
	if opt, n := queryOPT(r); n == 1 {
		size = max(size, int(opt.UDPSize()))
	}
	return size
}

// logQuery writes the debug line of one query, in the words of
// docs/interop-recipe.md §2: q=NAME t=TYPE do=… adq=… -> rcode=… n=… ad=….
func (h *handler) logQuery(w dns.ResponseWriter, r, m *dns.Msg, err error) {
	ctx := context.Background()
	level := slog.LevelDebug
	if err != nil {
		level = slog.LevelWarn
	}
	if !h.log.Enabled(ctx, level) {
		return
	}
	var name, qtype string
	if len(r.Question) > 0 {
		name = r.Question[0].Name
		qtype = dns.Type(r.Question[0].Qtype).String()
	}
	opt, _ := queryOPT(r)
	attrs := []slog.Attr{
		slog.String("q", name),
		slog.String("t", qtype),
		slog.Bool("do", opt != nil && opt.Do()),
		slog.Bool("adq", r.AuthenticatedData),
		slog.String("rcode", rcodeName(m.Rcode)),
		slog.Int("n", len(m.Answer)),
		slog.Bool("ad", m.AuthenticatedData),
		slog.Bool("tc", m.Truncated),
	}
	if a := w.RemoteAddr(); a != nil {
		attrs = append(attrs, slog.String("net", a.Network()), slog.String("remote", a.String()))
	}
	if err != nil {
		attrs = append(attrs, slog.Any("err", err))
	}
	h.log.LogAttrs(ctx, level, "dns query", attrs...)
}

// rcodeName returns the mnemonic of an RCODE, or its number.
func rcodeName(rcode int) string {
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return strconv.Itoa(rcode)
}
