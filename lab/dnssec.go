package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/mxlab/mxlab/dnslab"
	"github.com/mxlab/mxlab/scenarios"
)

// The lab's DNSSEC keys live in <state dir>/dnssec, one file each, in
// BIND's formats (dnslab.Key.MarshalText), readable by the owner only. A
// lab reuses them at every start, so the trust anchor a validator was
// given stays good until the state directory is removed.
const (
	dnssecDir = "dnssec"
	kskFile   = "ksk.key"
	zskFile   = "zsk.key"
)

// anchorTTL is the TTL written on the trust anchor's records. It is not
// the served DNSKEY's (DNSTTL): an anchor is configuration, and unbound's
// RFC 5011 tracking of an auto-trust-anchor-file counts from it.
const anchorTTL = 3600

// TrustAnchor is what a validating resolver needs to trust the lab's zone
// (RFC 4033 §3.1, RFC 4034 §5): the key-signing key's DS and DNSKEY
// records, each in zone-file syntax on one line.
type TrustAnchor struct {
	// DS is the DS record of the KSK, digest SHA-256.
	DS string `json:"ds"`
	// DNSKEY is the KSK itself (flags 257).
	DNSKEY string `json:"dnskey"`
}

// newTrustAnchor returns the anchor of keys for the zone (no trailing dot).
func newTrustAnchor(keys *dnslab.Keys, zone string) *TrustAnchor {
	ds, key := keys.TrustAnchor(zone+".", anchorTTL)
	line := func(rr dns.RR) string { return strings.ReplaceAll(rr.String(), "\t", " ") }
	return &TrustAnchor{DS: line(ds), DNSKEY: line(key)}
}

// Records parses the anchor's two records.
func (a *TrustAnchor) Records() (*dns.DS, *dns.DNSKEY, error) {
	ds, err := dns.NewRR(a.DS)
	if err != nil {
		return nil, nil, fmt.Errorf("lab: trust anchor: ds %q: %w", a.DS, err)
	}
	key, err := dns.NewRR(a.DNSKEY)
	if err != nil {
		return nil, nil, fmt.Errorf("lab: trust anchor: dnskey %q: %w", a.DNSKEY, err)
	}
	d, ok1 := ds.(*dns.DS)
	k, ok2 := key.(*dns.DNSKEY)
	if !ok1 || !ok2 {
		return nil, nil, fmt.Errorf("lab: trust anchor: want a DS and a DNSKEY record, got %s and %s", dns.Type(ds.Header().Rrtype), dns.Type(key.Header().Rrtype))
	}
	if k.ToDS(d.DigestType) == nil || !strings.EqualFold(k.ToDS(d.DigestType).Digest, d.Digest) {
		return nil, nil, fmt.Errorf("lab: trust anchor: the DS (key tag %d) is not the DNSKEY's (key tag %d)", d.KeyTag, k.KeyTag())
	}
	return d, k, nil
}

// Format writes the anchor in one of the syntaxes validators read
// (dnslab.AnchorFormats).
func (a *TrustAnchor) Format(f dnslab.AnchorFormat) (string, error) {
	ds, key, err := a.Records()
	if err != nil {
		return "", err
	}
	return dnslab.FormatTrustAnchor(ds, key, f)
}

// ErrStaleAnchor is wrapped by CheckTrustAnchor's errors for a manifest
// whose anchor is not the running lab's (the CLI exits 78).
var ErrStaleAnchor = errors.New("stale trust anchor")

// CheckTrustAnchor asks the lab's DNS server, at the manifest's address,
// for the zone's DNSKEY RRset and reports whether the manifest's KSK is in
// it: a manifest left by a lab that has stopped, or by an earlier run with
// another state directory, names a key nobody serves. Its errors wrap
// ErrStaleAnchor.
func CheckTrustAnchor(l *Layout, timeout time.Duration) error {
	if l.TrustAnchor == nil {
		return fmt.Errorf("lab: the manifest has no trust_anchor: it was written by an mxlab without DNSSEC; restart the lab to write a new one: %w", ErrStaleAnchor)
	}
	_, want, err := l.TrustAnchor.Records()
	if err != nil {
		return fmt.Errorf("%w: %w", err, ErrStaleAnchor)
	}
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(l.Zone), dns.TypeDNSKEY)
	q.SetEdns0(1232, true)
	c := &dns.Client{Timeout: timeout}
	r, _, err := c.Exchange(q, l.DNS)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.Exchange(q, l.DNS)
	}
	if err != nil {
		return fmt.Errorf("lab: the lab's DNS server at %s does not answer (%w): the manifest is stale, or the lab is not running: %w", l.DNS, err, ErrStaleAnchor)
	}
	var served []string
	for _, rr := range r.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok {
			if k.Flags == want.Flags && k.Algorithm == want.Algorithm && k.PublicKey == want.PublicKey {
				return nil
			}
			served = append(served, fmt.Sprintf("%d (flags %d)", k.KeyTag(), k.Flags))
		}
	}
	return fmt.Errorf("lab: the lab at %s serves DNSKEY %s for %s, not the manifest's key %d: the manifest is stale: %w",
		l.DNS, strings.Join(served, ", "), l.Zone, want.KeyTag(), ErrStaleAnchor)
}

// loadKeys returns the lab's DNSSEC keys from <stateDir>/dnssec, making
// and saving any that is missing. A file that cannot be read as the key it
// names is an error that says which: the anchor validators were given
// depends on it, so it is never replaced silently.
func loadKeys(stateDir, zone string) (*dnslab.Keys, error) {
	dir := filepath.Join(stateDir, dnssecDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lab: dnssec keys: %w", err)
	}
	var made *dnslab.Keys
	load := func(file string, flags uint16, pick func(*dnslab.Keys) dnslab.Key) (dnslab.Key, error) {
		path := filepath.Join(dir, file)
		data, err := os.ReadFile(path)
		switch {
		case err == nil:
			k, err := dnslab.ParseKey(data)
			if err != nil {
				return dnslab.Key{}, fmt.Errorf("lab: %s: %w; delete it to make a new key (validators then need the new trust anchor)", path, err)
			}
			if k.DNSKEY.Flags != flags {
				return dnslab.Key{}, fmt.Errorf("lab: %s: flags %d, want %d; delete it to make a new key", path, k.DNSKEY.Flags, flags)
			}
			return k, nil
		case !errors.Is(err, os.ErrNotExist):
			return dnslab.Key{}, fmt.Errorf("lab: dnssec keys: %w", err)
		}
		if made == nil {
			if made, err = dnslab.GenerateKeys(zone + "."); err != nil {
				return dnslab.Key{}, err
			}
		}
		k := pick(made)
		text, err := k.MarshalText()
		if err != nil {
			return dnslab.Key{}, err
		}
		if err := writeFileAtomic(path, text, 0o600); err != nil {
			return dnslab.Key{}, err
		}
		return k, nil
	}
	ksk, err := load(kskFile, dnslab.FlagsKSK, func(k *dnslab.Keys) dnslab.Key { return k.KSK })
	if err != nil {
		return nil, err
	}
	zsk, err := load(zskFile, dnslab.FlagsZSK, func(k *dnslab.Keys) dnslab.Key { return k.ZSK })
	if err != nil {
		return nil, err
	}
	return &dnslab.Keys{KSK: ksk, ZSK: zsk}, nil
}

// writeFileAtomic writes data to a temporary file in path's directory and
// renames it into place, so a reader (or a lab killed half-way) never
// sees half a key, as certs' writePEM does.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("lab: %w", err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("lab: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}

// addDNSSEC publishes what a site's DNS knobs ask of the signed zone: a
// domain that is an insecure delegation (dns.delegation: insecure, or the
// older dns.authenticated: false), and the RRsets whose signatures are
// broken (dns.bogus).
func addDNSSEC(zone *dnslab.Zone, site *Site) {
	if !site.Authenticated {
		zone.Insecure = append(zone.Insecure, site.Domain+".")
	}
	for _, b := range site.scenario.DNS.Bogus {
		switch b {
		case scenarios.BogusMX:
			zone.Bogus = append(zone.Bogus,
				dnslab.RRset{Name: site.Domain + ".", Type: dns.TypeMX},
				dnslab.RRset{Name: "*." + site.Domain + ".", Type: dns.TypeMX})
		case scenarios.BogusAddress:
			for _, host := range []string{site.MX, site.Host} {
				zone.Bogus = append(zone.Bogus,
					dnslab.RRset{Name: host + ".", Type: dns.TypeA},
					dnslab.RRset{Name: host + ".", Type: dns.TypeAAAA})
			}
		case scenarios.BogusTLSA:
			for _, t := range site.TLSA {
				zone.Bogus = append(zone.Bogus, dnslab.RRset{Name: t.Owner + ".", Type: dns.TypeTLSA})
			}
		}
	}
}

// PlanTrustAnchor returns the trust anchor a lab started with cfg would
// have: that of the keys in its state directory, made and saved on first
// use as Start does, for its zone. It reads nothing else of cfg.
func PlanTrustAnchor(cfg Config) (*TrustAnchor, error) {
	zone := strings.TrimSuffix(strings.ToLower(cfg.Zone), ".")
	if zone == "" {
		zone = DefaultZone
	}
	if _, ok := dns.IsDomainName(zone); !ok {
		return nil, configError(fmt.Errorf("lab: zone %q is not a domain name", cfg.Zone))
	}
	state := cfg.StateDir
	if state == "" {
		state = DefaultStateDir()
	}
	if err := os.MkdirAll(state, 0o700); err != nil {
		return nil, configError(fmt.Errorf("lab: state dir: %w", err))
	}
	keys, err := loadKeys(state, zone)
	if err != nil {
		return nil, configError(err)
	}
	return newTrustAnchor(keys, zone), nil
}
