package dnslab_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/mxlab/mxlab/dnslab"
)

func TestParseRecords(t *testing.T) {
	// good parses line and wants the record exp (zone-file syntax, absolute).
	good := func(line, exp string) {
		t.Helper()
		rrs, err := dnslab.ParseRecords(origin, []string{line}, 60)
		if err != nil {
			t.Errorf("%q: %v", line, err)
			return
		}
		want, err := dns.NewRR(exp)
		if err != nil {
			t.Fatalf("test record %q: %v", exp, err)
		}
		if len(rrs) != 1 || rrs[0].String() != want.String() {
			t.Errorf("%q: got %v, want %s", line, rrs, want)
		}
	}
	// bad parses line and wants an error; target, if set, must be in its chain.
	bad := func(line string, target error) {
		t.Helper()
		_, err := dnslab.ParseRecords(origin, []string{line}, 60)
		if err == nil {
			t.Errorf("%q: no error", line)
			return
		}
		if !strings.HasPrefix(err.Error(), `dnslab: records[0] `) {
			t.Errorf("%q: error %q does not name the entry", line, err)
		}
		if target != nil && !errors.Is(err, target) {
			t.Errorf("%q: error %q, want %v", line, err, target)
		}
	}

	good("exim A 127.0.2.1", "exim.mxlab.test. 60 IN A 127.0.2.1")
	good("exim.mxlab.test. MX 10 mx.exim.mxlab.test.", "exim.mxlab.test. 60 IN MX 10 mx.exim.mxlab.test.")
	good("exim MX 10 mx.exim", "exim.mxlab.test. 60 IN MX 10 mx.exim.mxlab.test.") // relative names in rdata too
	good("_25._tcp.mx.exim TLSA 3 1 1 "+tlsaHex, "_25._tcp.mx.exim.mxlab.test. 60 IN TLSA 3 1 1 "+tlsaHex)
	good(`exim TXT "v=spf1 -all"`, `exim.mxlab.test. 60 IN TXT "v=spf1 -all"`)
	good("exim TXT hello", `exim.mxlab.test. 60 IN TXT "hello"`)
	good("www.exim CNAME exim", "www.exim.mxlab.test. 60 IN CNAME exim.mxlab.test.")
	good("mx.exim AAAA ::1", "mx.exim.mxlab.test. 60 IN AAAA ::1")
	good("@ MX 0 .", "mxlab.test. 60 IN MX 0 .")                                          // the apex; a null MX (RFC 7505)
	good("exim 300 IN A 127.0.2.1", "exim.mxlab.test. 300 IN A 127.0.2.1")                // an explicit TTL wins
	good("  exim A 127.0.2.1  ; the exim scenario", "exim.mxlab.test. 60 IN A 127.0.2.1") // blanks and a comment
	good("*.exim MX 10 mx.exim", "*.exim.mxlab.test. 60 IN MX 10 mx.exim.mxlab.test.")    // a wildcard
	good("EXIM.MXLAB.TEST. A 127.0.2.1", "EXIM.MXLAB.TEST. 60 IN A 127.0.2.1")            // case is kept, matching ignores it

	bad("foo A 1.2.3", nil)                                      // not an IPv4 address
	bad("foo A", nil)                                            // no rdata
	bad("", nil)                                                 // nothing to parse
	bad("; just a comment", nil)                                 // no record
	bad("foo AAAA 127.0.0.1", nil)                               // an IPv4 address in AAAA
	bad("foo MX mx.foo", nil)                                    // no preference
	bad("_25._tcp.foo TLSA 3 1 1 zz", nil)                       // not hex
	bad("foo BOGUS 1", nil)                                      // no such type
	bad("foo NS ns.elsewhere.example.", dnslab.ErrRecordType)    // delegations are not the lab's
	bad("mxlab.test. SOA a. b. 1 2 3 4 5", dnslab.ErrRecordType) // the SOA is the lab's
	bad("foo SRV 0 0 25 mx.foo", dnslab.ErrRecordType)           // not a type a sender looks up for mail
	bad("foo.example. A 127.0.0.1", dnslab.ErrOutsideZone)       // another zone
	bad("test. A 127.0.0.1", dnslab.ErrOutsideZone)              // the parent
	bad("foo CH A 127.0.0.1", nil)                               // not class IN
	bad("exim.mxlab.test MX 10 mx", nil)                         // owner without its dot: exim.mxlab.test.mxlab.test.
	bad("exim MX 10 mx.exim.mxlab.test", nil)                    // target without its dot
	bad("www CNAME exim.mxlab.test", nil)                        // CNAME target without its dot
	bad("foo A 127.0.0.1\nbar A 127.0.0.2", nil)                 // two lines in one entry
	bad("$ORIGIN example.", nil)                                 // a directive
	bad("$INCLUDE /etc/passwd", nil)                             // a directive, and a file read
	bad("$GENERATE 1-3 host$ A 127.0.0.$", nil)                  // a directive making several records
	bad("foo A 127.0.0.1 ( 127.0.0.2 )", nil)                    // two addresses in one A record
	bad(`foo TXT "unterminated`, nil)                            // an open quote
	bad("foo 99999999999 A 127.0.0.1", nil)                      // a TTL beyond 32 bits
}

// TestParseRecordsError checks the error names the entry by index and text,
// after the entries before it parsed.
func TestParseRecordsError(t *testing.T) {
	_, err := dnslab.ParseRecords(origin, []string{"exim A 127.0.2.1", "exim MX 10 mx.exim", "foo A 1.2.3"}, 1)
	if err == nil {
		t.Fatal("no error")
	}
	if want := `dnslab: records[2] "foo A 1.2.3": `; !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %q, want prefix %q", err, want)
	}
	var pe *dns.ParseError
	if !errors.As(err, &pe) {
		t.Errorf("error %q does not wrap the *dns.ParseError", err)
	}
}
