package sender

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mxlab/mxlab/result"
)

// maxPolicySize bounds a policy body: RFC 8461 §3.3 lets senders limit
// it and suggests 64 KiB (postfix-mta-sts-resolver's HARD_RESP_LIMIT is
// the same).
const maxPolicySize = 64 * 1024

// maxFetchTime bounds a policy fetch: RFC 8461 §3.3 suggests one minute;
// the attempt's own step timeout applies when it is shorter.
const maxFetchTime = time.Minute

// errRedirect refuses a redirect: RFC 8461 §3.3, "Senders MUST NOT
// follow HTTP redirects" (3xx).
var errRedirect = errors.New("redirect refused (RFC 8461 §3.3)")

// stsFetchError is a failed policy fetch and the failure it counts as:
// result.STSPolicyFetchError, result.STSWebPKIInvalid or
// result.STSPolicyInvalid.
type stsFetchError struct {
	reason result.Reason
	err    error
}

func (e *stsFetchError) Error() string { return e.err.Error() }
func (e *stsFetchError) Unwrap() error { return e.err }

// policyURL is where a domain's policy is served (RFC 8461 §3.3).
func policyURL(domain string) string {
	return "https://mta-sts." + domain + "/.well-known/mta-sts.txt"
}

// fetchPolicy fetches and parses the domain's policy (RFC 8461 §3.3): an
// HTTPS GET of policyURL whose certificate must be PKIX-valid for
// mta-sts.<domain> against the attempt's roots at its clock, no
// redirect, status 200, a body of at most maxPolicySize. The host is
// reached at Options.HTTPSAddrFor's address when it gives one, else at
// port 443 of the address the attempt's resolver gives. It returns the
// body's lines too (RFC 8460 §4.4's policy-string), and an
// *stsFetchError.
func (a *attempt) fetchPolicy(ctx context.Context) (*STSPolicy, []string, error) {
	host := "mta-sts." + a.domain
	timeout := min(a.opts.Timeout, maxFetchTime)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			addr, err := a.policyHostAddr(ctx, host)
			if err != nil {
				return nil, err
			}
			d := net.Dialer{Timeout: timeout}
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{
			ServerName: host,
			RootCAs:    a.opts.Roots,
			Time:       a.opts.Now,
		},
		DisableKeepAlives: true,
		// The policy host's answer is read here, in full, and nowhere
		// else: no proxy from the environment, no HTTP/2 upgrade needed.
		Proxy: nil,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errRedirect
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, policyURL(a.domain), nil)
	if err != nil {
		return nil, nil, &stsFetchError{result.STSPolicyFetchError, err}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, &stsFetchError{fetchReason(err), err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, &stsFetchError{result.STSPolicyFetchError, fmt.Errorf("HTTP status %q, want 200 (RFC 8461 §3.3)", resp.Status)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPolicySize+1))
	if err != nil {
		return nil, nil, &stsFetchError{result.STSPolicyFetchError, fmt.Errorf("reading the policy: %w", err)}
	}
	if len(body) > maxPolicySize {
		return nil, nil, &stsFetchError{result.STSPolicyFetchError, fmt.Errorf("policy larger than %d bytes (RFC 8461 §3.3)", maxPolicySize)}
	}
	text := string(body)
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(text, "\r\n", "\n"), "\n"), "\n")
	p, err := ParseSTSPolicy(text)
	if err != nil {
		return nil, lines, &stsFetchError{result.STSPolicyInvalid, err}
	}
	return p, lines, nil
}

// policyHostAddr is host:port of the policy host: the lab's, or port 443
// of the address DNS gives.
func (a *attempt) policyHostAddr(ctx context.Context, host string) (string, error) {
	if a.opts.HTTPSAddrFor != nil {
		if addr := a.opts.HTTPSAddrFor(host); addr != "" {
			return addr, nil
		}
	}
	ip, _, err := a.opts.Resolver.LookupAddr(ctx, host)
	if err != nil {
		return "", fmt.Errorf("policy host %s: %w", host, err)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(443)), nil
}

// fetchReason is the failure a failed GET counts as: a certificate the
// roots or the name do not vouch for is sts-webpki-invalid (RFC 8460
// §4.3.2.2), anything else sts-policy-fetch-error.
func fetchReason(err error) result.Reason {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		cerr x509.CertificateInvalidError
	)
	if errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &cerr) {
		return result.STSWebPKIInvalid
	}
	return result.STSPolicyFetchError
}
