package dnslab

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// configTypes are the record types a configuration may add: what a sender
// looks up on its way to a mailbox (MX, the address, TLSA for DANE, TXT for
// policies, CNAME). The zone's structure (SOA, NS) and DNSSEC records stay
// the lab's.
var configTypes = map[uint16]bool{
	dns.TypeA:     true,
	dns.TypeAAAA:  true,
	dns.TypeMX:    true,
	dns.TypeTLSA:  true,
	dns.TypeTXT:   true,
	dns.TypeCNAME: true,
}

// ParseRecords parses records given in configuration, one per entry in
// zone-file syntax (RFC 1035 §5.1): "exim A 127.0.2.1",
// "exim.mxlab.test. MX 10 mx.exim.mxlab.test.",
// "_25._tcp.mx.exim TLSA 3 1 1 ab12…". Names without a trailing dot are
// relative to origin, "@" is the origin, and an entry without a TTL gets
// ttl. Only types A, AAAA, MX, TLSA, TXT and CNAME are allowed, each owner
// must be at or below origin, and zone-file directives ($ORIGIN, $TTL,
// $INCLUDE, $GENERATE) are not records.
//
// Errors name the entry by index and text and say why, e.g.
// `dnslab: records[2] "foo A 1.2.3": dns: bad A A: "1.2.3" at line: 1:11`;
// they wrap [ErrOutsideZone], [ErrRecordType] or the parser's *dns.ParseError.
func ParseRecords(origin string, lines []string, ttl uint32) ([]dns.RR, error) {
	origin = dns.CanonicalName(origin)
	if _, ok := dns.IsDomainName(origin); !ok {
		return nil, fmt.Errorf("dnslab: origin %q: not a domain name: %w", origin, ErrBadZone)
	}
	var rrs []dns.RR
	for i, line := range lines {
		rr, err := parseRecord(origin, line, ttl)
		if err != nil {
			return nil, fmt.Errorf("dnslab: records[%d] %q: %w", i, line, err)
		}
		rrs = append(rrs, rr)
	}
	return rrs, nil
}

// parseRecord parses and checks one entry of ParseRecords.
func parseRecord(origin, line string, ttl uint32) (dns.RR, error) {
	text := strings.TrimSpace(line)
	switch {
	case text == "":
		return nil, errors.New("empty entry")
	case strings.ContainsAny(text, "\r\n"):
		// One entry is one record; a second line would be a second
		// record the error messages could not name.
		return nil, errors.New("more than one line")
	case strings.HasPrefix(text, "$"):
		return nil, errors.New("zone-file directives are not records")
	}
	// The entry was trimmed: a leading blank would otherwise mean "the
	// previous owner" (RFC 1035 §5.1), which an entry on its own lacks.
	zp := dns.NewZoneParser(strings.NewReader(text), origin, "")
	zp.SetDefaultTTL(ttl)
	rr, ok := zp.Next()
	if err := zp.Err(); err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("no record")
	}
	if _, more := zp.Next(); more {
		return nil, errors.New("more than one record")
	}
	h := rr.Header()
	if !configTypes[h.Rrtype] {
		return nil, fmt.Errorf("type %s, want A, AAAA, MX, TLSA, TXT or CNAME: %w", dns.Type(h.Rrtype), ErrRecordType)
	}
	if h.Class != dns.ClassINET {
		return nil, fmt.Errorf("class %s, want IN: %w", dns.Class(h.Class), ErrBadZone)
	}
	if err := packs(rr); err != nil {
		return nil, fmt.Errorf("rdata does not pack: %w", err)
	}
	if !dns.IsSubDomain(origin, dns.CanonicalName(h.Name)) {
		return nil, fmt.Errorf("owner %s not at or below %s: %w", h.Name, origin, ErrOutsideZone)
	}
	// "exim.mxlab.test MX ..." without its final dot is relative, and
	// becomes exim.mxlab.test.mxlab.test.: valid, in the zone, and never
	// what was meant.
	names := []string{h.Name}
	switch rr := rr.(type) {
	case *dns.MX:
		names = append(names, rr.Mx)
	case *dns.CNAME:
		names = append(names, rr.Target)
	}
	for _, name := range names {
		if repeatsOrigin(name, origin) {
			return nil, fmt.Errorf("name %s repeats the origin: a trailing dot is missing", name)
		}
	}
	return rr, nil
}

// repeatsOrigin reports whether name ends in the origin twice, the mark of
// an absolute name written without its trailing dot.
func repeatsOrigin(name, origin string) bool {
	if origin == "." {
		return false
	}
	twice := strings.TrimSuffix(origin, ".") + "." + origin
	name = dns.CanonicalName(name)
	return name == twice || strings.HasSuffix(name, "."+twice)
}
