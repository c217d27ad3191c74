// Package mxlabtest runs an mxlab lab inside a Go test, in the idiom of
// net/http/httptest: Start gives a running lab on loopback, torn down with
// t.Cleanup, and everything a test needs to aim real code at a scenario.
//
//	lab := mxlabtest.Start(t, mxlabtest.Scenarios("sni-reject", "no-starttls"))
//	site := lab.Scenario("sni-reject")
//	mxs, _ := lab.Resolver().LookupMX(ctx, site.Domain) // the lab's DNS
//	conn, _ := lab.DialContext(ctx, "tcp", mxs[0].Host+":25") // reaches the scenario
//	// … the code under test speaks SMTP on conn, with lab.TLSConfig(site.Name) …
//	rec, _ := lab.WaitSession(ctx, mxlabtest.Filter{Scenario: "sni-reject"})
//
// Each scenario gets an address of its own (127.x.y.n, one port shared by
// all), so the lab's DNS answers every MX with a distinct address, and
// DialContext maps port 25 of a lab name or address to the scenario's
// listener: code that looks up MX and A records itself and dials port 25
// reaches the right scenario without root. TLSA records are published at
// _25._tcp.<mx> as well as at the real port, so DANE code finds them where
// it looks. Nothing a test dials through the lab leaves the machine:
// DialContext refuses every destination that is not the lab's.
package mxlabtest
