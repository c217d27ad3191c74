package server

import (
	"fmt"

	"github.com/mxlab/mxlab/scenarios"
	"github.com/mxlab/mxlab/tlsalert"
)

// rejection is a compiled scenarios.RejectRule.
type rejection struct {
	when  scenarios.Condition
	alert tlsalert.Alert
	log   string
	// do is the fault's action for a ClientHello fault: alert (as
	// tls.reject rules), close or reset.
	do scenarios.Action
}

func compileRules(rules []scenarios.RejectRule) ([]rejection, error) {
	out := make([]rejection, 0, len(rules))
	for i, r := range rules {
		d, err := tlsalert.ParseDescription(r.Alert)
		if err != nil {
			return nil, fmt.Errorf("server: tls.reject[%d]: %w", i, err)
		}
		out = append(out, rejection{when: r.When, alert: tlsalert.Alert{Level: tlsalert.Fatal, Description: d}, log: r.Log, do: scenarios.DoAlert})
	}
	return out, nil
}

// match returns the first rule the ClientHello trips.
func match(rules []rejection, h *ClientHello) (rejection, bool) {
	for _, r := range rules {
		if r.matches(h) {
			return r, true
		}
	}
	return rejection{}, false
}

// matches tests a ClientHello; h is nil when the client sent no
// handshake record at all.
func (r rejection) matches(h *ClientHello) bool {
	if h == nil {
		return r.when == scenarios.NotTLS
	}
	switch r.when {
	case scenarios.Always:
		return true
	case scenarios.MalformedSNI:
		return h.SNIMalformed
	case scenarios.GnuTLSDisallowedSNI:
		name, ok := h.ServerName()
		return ok && !gnutlsDNSNameValid(name)
	case scenarios.TLS13Only:
		return h.OnlyTLS13()
	}
	return false
}

// gnutlsDNSNameValid is GnuTLS's _gnutls_dnsname_is_valid (lib/str.h),
// which _gnutls_server_name_recv_params (lib/ext/server_name.c) applies to
// the first host_name entry: every byte must be an ASCII letter, digit,
// '-' or '.'. Nothing else is checked: length, empty labels, a trailing
// dot and IP literals all pass (measured on gnutls-serv 3.7.9).
func gnutlsDNSNameValid(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
