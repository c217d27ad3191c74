package sender

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// MTA-STS (RFC 8461) in the sender, one file per concern:
//
//   - mtasts_policy.go: the TXT record (§3.1), the policy (§3.2) and
//     matching an MX against its mx patterns (§4.1);
//   - mtasts_fetch.go: fetching the policy over HTTPS (§3.3);
//   - mtasts_cache.go: the policy cache a real sender keeps (§3.3);
//   - mtasts.go: discovery and application in an attempt (§5).

// STSMode is a policy's mode (RFC 8461 §5).
type STSMode string

// Policy modes.
const (
	// STSEnforce: deliver only to a listed MX, over TLS with a
	// certificate PKIX-valid for it.
	STSEnforce STSMode = "enforce"
	// STSTesting: report what would fail, deliver as without a policy.
	STSTesting STSMode = "testing"
	// STSNone: the domain withdrew its policy.
	STSNone STSMode = "none"
)

// STSPolicy is a parsed MTA-STS policy (RFC 8461 §3.2).
type STSPolicy struct {
	Mode STSMode
	// MX are the mx patterns as written: a host name, or "*." and a
	// domain, which matches one more leftmost label (§4.1).
	MX []string
	// MaxAge is how long the policy may be cached, in seconds.
	MaxAge int
}

// maxMaxAge is RFC 8461 §3.2's upper bound on max_age: 31557600 seconds,
// about a year.
const maxMaxAge = 31557600

// Errors of the parsers; each wraps one of these.
var (
	// ErrSTSRecord: the _mta-sts TXT record is not a valid STSv1 record,
	// or there is not exactly one (§3.1): the domain has no policy.
	ErrSTSRecord = errors.New("sender: mta-sts record")
	// ErrSTSPolicy: the fetched policy is not a valid STSv1 policy
	// (§3.2): result.STSPolicyInvalid.
	ErrSTSPolicy = errors.New("sender: mta-sts policy")
)

// stsIDRE is §3.1's sts-id: 1 to 32 letters and digits.
var stsIDRE = regexp.MustCompile(`^[A-Za-z0-9]{1,32}$`)

// stsRecord picks the one MTA-STS record among a name's TXT records and
// returns its id (RFC 8461 §3.1): records that do not begin with
// "v=STSv1" are not MTA-STS records; if the number left is not one, or
// that one does not parse, the domain has no policy. The errors wrap
// ErrSTSRecord.
func stsRecord(txts []string) (record, id string, err error) {
	var found []string
	for _, t := range txts {
		if strings.HasPrefix(t, "v=STSv1") {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return "", "", fmt.Errorf("%w: no TXT record begins with v=STSv1", ErrSTSRecord)
	case 1:
	default:
		return "", "", fmt.Errorf("%w: %d records begin with v=STSv1, want one", ErrSTSRecord, len(found))
	}
	record = found[0]
	// sts-text-record = sts-version 1*(*WSP field-delim *WSP sts-field)
	// [field-delim]: "v=STSv1" first, then fields, each after a ";".
	fields := strings.Split(record, ";")
	if strings.TrimRight(fields[0], " \t") != "v=STSv1" {
		return record, "", fmt.Errorf("%w: %q: the version field is not v=STSv1", ErrSTSRecord, record)
	}
	for i, f := range fields[1:] {
		f = strings.Trim(f, " \t")
		if f == "" && i == len(fields)-2 {
			break // the optional trailing ";"
		}
		name, value, ok := strings.Cut(f, "=")
		if !ok || name == "" {
			return record, "", fmt.Errorf("%w: %q: field %q is not name=value", ErrSTSRecord, record, f)
		}
		if name == "id" && id == "" {
			if !stsIDRE.MatchString(value) {
				return record, "", fmt.Errorf("%w: %q: id %q is not 1 to 32 letters and digits", ErrSTSRecord, record, value)
			}
			id = value
		}
	}
	if id == "" {
		return record, "", fmt.Errorf("%w: %q: no id", ErrSTSRecord, record)
	}
	return record, id, nil
}

// ParseSTSPolicy parses a policy body (RFC 8461 §3.2): "key: value"
// lines ended by LF or CRLF. version (STSv1), mode and max_age are
// required, and at least one mx unless the mode is none; unknown keys
// are extensions and ignored. A key other than mx given twice is refused:
// the grammar does not say which one would count. Errors wrap
// ErrSTSPolicy.
func ParseSTSPolicy(text string) (*STSPolicy, error) {
	p := &STSPolicy{MaxAge: -1}
	seen := map[string]bool{}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		line = strings.TrimSuffix(line, "\r")
		// sts-policy-field *WSP: trailing blanks are allowed.
		line = strings.TrimRight(line, " \t")
		if line == "" {
			// Not in the grammar, but harmless: senders read past blank
			// lines (postfix-mta-sts-resolver's parser ignores them too).
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%w: line %d %q is not key: value", ErrSTSPolicy, i+1, line)
		}
		value = strings.TrimLeft(value, " \t")
		if key != "mx" && seen[key] {
			return nil, fmt.Errorf("%w: line %d: %s given twice", ErrSTSPolicy, i+1, key)
		}
		seen[key] = true
		switch key {
		case "version":
			if value != "STSv1" {
				return nil, fmt.Errorf("%w: version %q, want STSv1", ErrSTSPolicy, value)
			}
		case "mode":
			switch m := STSMode(value); m {
			case STSEnforce, STSTesting, STSNone:
				p.Mode = m
			default:
				return nil, fmt.Errorf("%w: mode %q, want enforce, testing or none", ErrSTSPolicy, value)
			}
		case "max_age":
			n, err := strconv.Atoi(value)
			if err != nil || len(value) > 10 || strings.ContainsAny(value, "+-") || n > maxMaxAge {
				return nil, fmt.Errorf("%w: max_age %q, want 0 to %d seconds", ErrSTSPolicy, value, maxMaxAge)
			}
			p.MaxAge = n
		case "mx":
			if !validMXPattern(value) {
				return nil, fmt.Errorf("%w: mx %q is not a host name or *. and a domain", ErrSTSPolicy, value)
			}
			p.MX = append(p.MX, value)
		}
	}
	switch {
	case !seen["version"]:
		return nil, fmt.Errorf("%w: no version", ErrSTSPolicy)
	case p.Mode == "":
		return nil, fmt.Errorf("%w: no mode", ErrSTSPolicy)
	case p.MaxAge < 0:
		return nil, fmt.Errorf("%w: no max_age", ErrSTSPolicy)
	case len(p.MX) == 0 && p.Mode != STSNone:
		return nil, fmt.Errorf("%w: mode %s without an mx", ErrSTSPolicy, p.Mode)
	}
	return p, nil
}

// labelRE is one DNS label of a host name (letters, digits, hyphens).
var labelRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// validMXPattern checks §3.2's sts-policy-mx-value: ["*."] Domain.
func validMXPattern(v string) bool {
	v = strings.TrimPrefix(v, "*.")
	if v == "" || len(v) > 253 {
		return false
	}
	for _, l := range strings.Split(v, ".") {
		if !labelRE.MatchString(l) {
			return false
		}
	}
	return true
}

// Matches reports whether an MX host name matches one of the policy's mx
// patterns (RFC 8461 §4.1): as RFC 6125 §6.4 matches names, case aside,
// except that "*." matches exactly one leftmost label, so
// "*.example.com" matches "mx.example.com" but neither "example.com" nor
// "a.mx.example.com".
func (p *STSPolicy) Matches(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, pat := range p.MX {
		pat = strings.ToLower(pat)
		if rest, ok := strings.CutPrefix(pat, "*."); ok {
			if _, parent, ok := strings.Cut(host, "."); ok && parent == rest {
				return true
			}
			continue
		}
		if host == pat {
			return true
		}
	}
	return false
}

// secureMatch reports whether a certificate name matches one of the
// policy's mx patterns as postfix-mta-sts-resolver hands them to Postfix
// and Postfix's secure level compares them (profiles.STSMatchCertificate):
// the resolver strips the "*" of "*.example.com" (responder.py,
// mx.lstrip('*')), and Postfix matches ".example.com" against a name
// with at least one more label, at any depth, and any other pattern
// exactly; a certificate name "*.example.com" matches the pattern
// "mx.example.com" (postfix-3.7 src/tls/tls_verify.c, match_servername).
func (p *STSPolicy) secureMatch(certName string) bool {
	name := strings.ToLower(strings.TrimSuffix(certName, "."))
	for _, pat := range p.MX {
		pat = strings.ToLower(strings.TrimLeft(pat, "*"))
		if sub, ok := strings.CutPrefix(pat, "."); ok {
			if len(name) > len(sub)+1 && strings.HasSuffix(name, "."+sub) {
				return true
			}
			continue
		}
		if name == pat {
			return true
		}
		if rest, ok := strings.CutPrefix(name, "*."); ok && rest != "" {
			if _, parent, ok := strings.Cut(pat, "."); ok && parent == rest {
				return true
			}
		}
	}
	return false
}
