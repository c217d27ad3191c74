package scenarios

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/mxlab/mxlab/internal/catalog"
)

// MTASTS is the MTA-STS policy (RFC 8461) a scenario publishes for its
// domain: the _mta-sts TXT record (§3.1) and the policy file served at
// https://mta-sts.<domain>/.well-known/mta-sts.txt (§3.2, §3.3). A
// scenario without the block publishes neither.
type MTASTS struct {
	// Mode is the policy's mode: enforce, testing or none (RFC 8461 §5).
	Mode STSMode `yaml:"mode" json:"mode"`
	// MX lists the policy's mx: patterns as templates ({mx}, {domain});
	// a pattern may start with "*." to match one left-most label (RFC
	// 8461 §4.1). Default ["{mx}"].
	MX []string `yaml:"mx" json:"mx,omitempty"`
	// MaxAge is the policy's max_age in seconds (RFC 8461 §3.2: at most
	// 31557600). Default 86400.
	MaxAge int `yaml:"max_age" json:"max_age,omitempty"`
	// ID is the TXT record's id= (RFC 8461 §3.1: 1 to 32 letters and
	// digits). Default "1".
	ID string `yaml:"id" json:"id,omitempty"`
	// Policy is what the policy host does (default ok).
	Policy PolicyHost `yaml:"policy" json:"policy,omitempty"`
}

// STSMode is an MTA-STS policy mode (RFC 8461 §5).
type STSMode string

// MTA-STS modes.
const (
	// STSEnforce: a sender must not deliver to an MX that does not match
	// the policy or whose certificate fails PKIX validation (RFC 8461 §5).
	STSEnforce STSMode = "enforce"
	// STSTesting: a sender delivers anyway, and reports the failure
	// through TLS-RPT (RFC 8461 §5, RFC 8460).
	STSTesting STSMode = "testing"
	// STSNone: the domain withdraws its policy (RFC 8461 §8.3).
	STSNone STSMode = "none"
)

// PolicyHost is what the lab's policy host mta-sts.<domain> does.
type PolicyHost string

// Policy host behaviours.
const (
	// PolicyOK serves the policy with a lab-CA certificate for
	// mta-sts.<domain> (the default).
	PolicyOK PolicyHost = "ok"
	// PolicyFetchFail answers the policy URL with HTTP 404: a sender
	// that has no cached policy behaves as if the domain had none (RFC
	// 8461 §3.3, §5.1).
	PolicyFetchFail PolicyHost = "fetch-fail"
	// PolicyNoHost publishes the TXT record and the host's address, and
	// nothing listens there: the connection is refused.
	PolicyNoHost PolicyHost = "no-policy-host"
	// PolicyBadCert serves the policy with a certificate from a CA no
	// client trusts: the HTTPS fetch fails PKIX validation, which RFC
	// 8461 §3.3 requires ("the certificate ... MUST be valid").
	PolicyBadCert PolicyHost = "bad-cert"
)

// TLSRPT is a way a TLS-RPT report reaches the lab (RFC 8460 §3: the
// rua= URIs of the _smtp._tls TXT record).
type TLSRPT string

// TLS-RPT report destinations.
const (
	// TLSRPTHTTPS: rua=https://tlsrpt.<zone>/v1/report (RFC 8460 §3,
	// "https:" URI: the report is POSTed).
	TLSRPTHTTPS TLSRPT = "https"
	// TLSRPTMailto: rua=mailto:tlsrpt@tlsrpt.<zone> (RFC 8460 §3,
	// "mailto:" URI: the report is mailed).
	TLSRPTMailto TLSRPT = "mailto"
)

var (
	stsModes    = []STSMode{STSEnforce, STSTesting, STSNone}
	policyHosts = []PolicyHost{PolicyOK, PolicyFetchFail, PolicyNoHost, PolicyBadCert}
	tlsrptKinds = []TLSRPT{TLSRPTHTTPS, TLSRPTMailto}
	// stsID is RFC 8461 §3.1's id-value: 1*32(ALPHA / DIGIT).
	stsID = regexp.MustCompile(`^[A-Za-z0-9]{1,32}$`)
	// stsMX is a pattern once its templates are expanded: host names of
	// letters, digits, '-' and '.', with at most a leading "*." (RFC
	// 8461 §4.1: the wildcard stands for the left-most label only).
	stsMX = regexp.MustCompile(`^(\*\.)?[a-z0-9.-]+$`)
)

// STS policy defaults and bounds (RFC 8461 §3.2).
const (
	DefaultSTSMaxAge = 86400
	MaxSTSMaxAge     = 31557600
)

func (m *MTASTS) applyDefaults() {
	if len(m.MX) == 0 {
		m.MX = []string{"{mx}"}
	}
	if m.MaxAge == 0 {
		m.MaxAge = DefaultSTSMaxAge
	}
	if m.ID == "" {
		m.ID = "1"
	}
	if m.Policy == "" {
		m.Policy = PolicyOK
	}
}

// validate checks the mta_sts block; errors name the key.
func (m *MTASTS) validate() error {
	if m.Mode == "" {
		return fmt.Errorf("mta_sts.mode: missing (enforce, testing or none)")
	}
	if err := catalog.OneOf("mta_sts.mode", m.Mode, stsModes); err != nil {
		return err
	}
	if err := catalog.OneOf("mta_sts.policy", m.Policy, policyHosts); err != nil {
		return err
	}
	if m.MaxAge < 0 || m.MaxAge > MaxSTSMaxAge {
		return fmt.Errorf("mta_sts.max_age: %d is not between 0 and %d seconds (RFC 8461 §3.2)", m.MaxAge, MaxSTSMaxAge)
	}
	if !stsID.MatchString(m.ID) {
		return fmt.Errorf("mta_sts.id: %q is not 1 to 32 letters and digits (RFC 8461 §3.1)", m.ID)
	}
	for i, p := range m.MX {
		key := fmt.Sprintf("mta_sts.mx[%d]", i)
		if err := catalog.CheckTemplate(key, p, "mx", "domain"); err != nil {
			return err
		}
		// Check the shape with the templates standing for a name.
		if probe := strings.NewReplacer("{mx}", "mx.example", "{domain}", "example").Replace(strings.ToLower(p)); !stsMX.MatchString(probe) {
			return fmt.Errorf("%s: %q is not a host name or a \"*.\" wildcard of one (RFC 8461 §4.1)", key, p)
		}
	}
	return nil
}

// validateTLSRPT checks the tls_rpt list; errors name the key.
func validateTLSRPT(list []TLSRPT) error {
	for i, k := range list {
		if err := catalog.OneOf(fmt.Sprintf("tls_rpt[%d]", i), k, tlsrptKinds); err != nil {
			return err
		}
		if slices.Index(list, k) != i {
			return fmt.Errorf("tls_rpt[%d]: %s is listed twice", i, k)
		}
	}
	return nil
}
