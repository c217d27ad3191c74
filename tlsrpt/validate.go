package tlsrpt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// ErrInvalid marks a report that breaks RFC 8460's structure; every
// error of [Validate] matches it with errors.Is.
var ErrInvalid = errors.New("tlsrpt: invalid report")

// A FieldError is one way a report breaks RFC 8460's structure, at a JSON
// path such as policies[0].failure-details[2].result-type.
type FieldError struct {
	Path    string
	Problem string
}

func (e *FieldError) Error() string { return "tlsrpt: " + e.Path + ": " + e.Problem }

// Is makes every FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// Validate checks a JSON report against RFC 8460 §4.4: I-JSON (RFC 7493:
// one object, no duplicate member names), the required members and their
// types, policy-type and result-type from their lists (§4.4, §4.3), the
// dates as RFC 3339 with start before end, counts as integers ≥ 0, and
// addresses as IPv4 or IPv6 text. It returns nil or every problem
// (errors.Join of [*FieldError]s, each naming its path).
//
// Required: organization-name, date-range with both dates, contact-info,
// report-id, policies; per policy: policy with policy-type and
// policy-domain, summary with both counts; per failure: result-type and
// failed-session-count. §4.4 also lists sending-mta-ip and
// receiving-mx-hostname without "optional", but real reporters leave
// them out (Microsoft's and Mail.ru's reports omit both when no host was
// reached), so they are checked only when present. Members the RFC does
// not name are allowed: the format is meant to grow (§4.3).
func Validate(data []byte) error {
	v := &validator{}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	root, err := decodeValue(dec, "report", v)
	if err != nil {
		return &FieldError{Path: "report", Problem: "not JSON: " + err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &FieldError{Path: "report", Problem: "data after the report's object"}
	}
	v.report(root)
	return errors.Join(v.errs...)
}

// validator collects problems; the walk goes on after the first one so a
// report's author sees them all.
type validator struct{ errs []error }

func (v *validator) fail(path, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Path: path, Problem: fmt.Sprintf(format, args...)})
}

func (v *validator) report(root any) {
	obj, ok := v.object("report", root)
	if !ok {
		return
	}
	v.text("organization-name", obj, true)
	v.text("contact-info", obj, true)
	v.text("report-id", obj, true)
	if dr, ok := v.member("date-range", obj, true); ok {
		if d, ok := v.object("date-range", dr); ok {
			start, okS := v.date("date-range.start-datetime", d)
			end, okE := v.date("date-range.end-datetime", d)
			if okS && okE && end.Before(start) {
				v.fail("date-range", "end-datetime %s is before start-datetime %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
			}
		}
	}
	pv, ok := v.member("policies", obj, true)
	if !ok {
		return
	}
	ps, ok := pv.([]any)
	if !ok {
		// RFC 8460 §4: "MUST be an array and not a singular value".
		v.fail("policies", "want an array, got %s", kind(pv))
		return
	}
	for i, p := range ps {
		v.policyResult(fmt.Sprintf("policies[%d]", i), p)
	}
}

func (v *validator) policyResult(path string, val any) {
	obj, ok := v.object(path, val)
	if !ok {
		return
	}
	if pv, ok := v.member(path+".policy", obj, true); ok {
		if p, ok := v.object(path+".policy", pv); ok {
			if t, ok := v.text(path+".policy.policy-type", p, true); ok && !slices.Contains(PolicyTypes, PolicyType(t)) {
				v.fail(path+".policy.policy-type", "%q is not a policy type (want one of %v)", t, PolicyTypes)
			}
			v.text(path+".policy.policy-domain", p, true)
			v.strings(path+".policy.policy-string", p, false)
			if mx, ok := p["mx-host"]; ok {
				if _, isString := mx.(string); !isString {
					v.strings(path+".policy.mx-host", p, false)
				}
			}
		}
	}
	if sv, ok := v.member(path+".summary", obj, true); ok {
		if s, ok := v.object(path+".summary", sv); ok {
			v.count(path+".summary.total-successful-session-count", s, true)
			v.count(path+".summary.total-failure-session-count", s, true)
		}
	}
	fv, ok := v.member(path+".failure-details", obj, false)
	if !ok {
		return
	}
	fs, ok := fv.([]any)
	if !ok {
		v.fail(path+".failure-details", "want an array, got %s", kind(fv))
		return
	}
	for i, f := range fs {
		v.failure(fmt.Sprintf("%s.failure-details[%d]", path, i), f)
	}
}

func (v *validator) failure(path string, val any) {
	f, ok := v.object(path, val)
	if !ok {
		return
	}
	if t, ok := v.text(path+".result-type", f, true); ok && !ResultType(t).Known() {
		v.fail(path+".result-type", "%q is not a result type of RFC 8460 §4.3 (want one of %v)", t, ResultTypes)
	}
	v.count(path+".failed-session-count", f, true)
	v.address(path+".sending-mta-ip", f)
	v.address(path+".receiving-ip", f)
	for _, name := range []string{"receiving-mx-hostname", "receiving-mx-helo", "additional-information", "failure-reason-code"} {
		v.text(path+"."+name, f, false)
	}
}

// member returns obj's member named by the last element of path.
func (v *validator) member(path string, obj map[string]any, required bool) (any, bool) {
	name := path[strings.LastIndex(path, ".")+1:]
	val, ok := obj[name]
	if !ok {
		if required {
			v.fail(path, "missing")
		}
		return nil, false
	}
	return val, true
}

func (v *validator) object(path string, val any) (map[string]any, bool) {
	obj, ok := val.(map[string]any)
	if !ok {
		v.fail(path, "want an object, got %s", kind(val))
	}
	return obj, ok
}

func (v *validator) text(path string, obj map[string]any, required bool) (string, bool) {
	val, ok := v.member(path, obj, required)
	if !ok {
		return "", false
	}
	s, ok := val.(string)
	if !ok {
		v.fail(path, "want a string, got %s", kind(val))
		return "", false
	}
	if required && strings.TrimSpace(s) == "" {
		v.fail(path, "empty")
		return "", false
	}
	return s, true
}

func (v *validator) strings(path string, obj map[string]any, required bool) {
	val, ok := v.member(path, obj, required)
	if !ok {
		return
	}
	list, ok := val.([]any)
	if !ok {
		v.fail(path, "want an array of strings, got %s", kind(val))
		return
	}
	for i, e := range list {
		if _, ok := e.(string); !ok {
			v.fail(fmt.Sprintf("%s[%d]", path, i), "want a string, got %s", kind(e))
		}
	}
}

// date checks an RFC 3339 date-time (RFC 8460 §4.4, RFC 3339 §5.6): a
// time zone is required, which Microsoft's early reports left out.
func (v *validator) date(path string, obj map[string]any) (time.Time, bool) {
	s, ok := v.text(path, obj, true)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		v.fail(path, "%q is not an RFC 3339 date-time (such as 2016-04-01T00:00:00Z)", s)
		return time.Time{}, false
	}
	return t, true
}

// count checks a session count: an integer ≥ 0 (RFC 8460 §4.4: "integer,
// encoded as a JSON number").
func (v *validator) count(path string, obj map[string]any, required bool) {
	val, ok := v.member(path, obj, required)
	if !ok {
		return
	}
	n, ok := val.(json.Number)
	if !ok {
		v.fail(path, "want an integer, got %s", kind(val))
		return
	}
	i, err := n.Int64()
	switch {
	case err != nil:
		v.fail(path, "want an integer, got %s", n)
	case i < 0:
		v.fail(path, "want a count ≥ 0, got %d", i)
	}
}

// address checks an IP address in text (RFC 8460 §4.4 "ip-address": IPv4
// dotted decimal or IPv6 per RFC 5952), when present.
func (v *validator) address(path string, obj map[string]any) {
	s, ok := v.text(path, obj, false)
	if !ok {
		return
	}
	if _, err := netip.ParseAddr(s); err != nil {
		v.fail(path, "%q is not an IP address", s)
	}
}

// kind names a JSON value's type for an error.
func kind(val any) string {
	switch val.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", val)
}

// maxDepth bounds nesting: a report is four levels deep, and a hostile
// one should not recurse far.
const maxDepth = 32

// decodeValue reads one JSON value token by token, so that a member
// named twice in one object (which I-JSON, RFC 7493 §2.3, forbids and
// encoding/json would silently take the last of) is found.
func decodeValue(dec *json.Decoder, path string, v *validator) (any, error) {
	return decodeAt(dec, path, v, 0)
}

func decodeAt(dec *json.Decoder, path string, v *validator, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				val, err := decodeAt(dec, path+"."+k, v, depth+1)
				if err != nil {
					return nil, err
				}
				if _, dup := obj[k]; dup {
					v.fail(strings.TrimPrefix(path+"."+k, "report."), "named twice in one object (RFC 7493 §2.3)")
				}
				obj[k] = val
			}
			_, err := dec.Token() // '}'
			return obj, err
		case '[':
			list := []any{}
			for i := 0; dec.More(); i++ {
				val, err := decodeAt(dec, fmt.Sprintf("%s[%d]", path, i), v, depth+1)
				if err != nil {
					return nil, err
				}
				list = append(list, val)
			}
			_, err := dec.Token() // ']'
			return list, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return t, nil
	}
}
