package main

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/spf13/cobra"

	"github.com/mxlab/mxlab/certs"
	"github.com/mxlab/mxlab/lab"
	"github.com/mxlab/mxlab/matrix"
	"github.com/mxlab/mxlab/profiles"
	"github.com/mxlab/mxlab/result"
	"github.com/mxlab/mxlab/sender"
)

// Exit codes of send (sysexits.h; docs/contracts.md).
const (
	exitDeferred = 75 // EX_TEMPFAIL
	exitBounced  = 69 // EX_UNAVAILABLE
)

func newSendCmd(env *cliEnv) *cobra.Command {
	var profileName, to, labPath, server, resolverAddr, auth, from, tlsrptPath string
	var transcript bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "send --profile NAME --to ADDRESS",
		Short: "Deliver one test message as a given sender would, and say what happened",
		Long: `Deliver one test message the way a sender profile would: its MX lookup, its
STARTTLS and SNI, its verification, its reaction to failures. Prints what
happened, what the sender does on its next attempts, and the text its user
would see. Only the first attempt is made; later ones are predicted.

  mxlab send --profile gmail --to postmaster@sni-reject.mxlab.test --lab lab.json
  mxlab send --profile postfix-dane --to someone@example.org
  mxlab send --profile postfix-may --server 127.0.0.1:2525 --to a@b.test

--tlsrpt FILE also writes the TLS-RPT report (RFC 8460) the sender would
send the recipient domain about this attempt (docs/tlsrpt.md).

Exit status: 0 delivered, 75 deferred, 69 bounced, 64 bad usage, 78 bad
configuration.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := format(cmd, "text", "json")
			if err != nil {
				return err
			}
			cat, err := profiles.Builtin()
			if err != nil {
				return err
			}
			if profileName == "" || to == "" {
				return fmt.Errorf("%w: --profile and --to are required (profiles: %s)", errUsage, strings.Join(cat.Names(), ", "))
			}
			p, err := cat.Get(profileName)
			if err != nil {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
			if user, _, ok := strings.Cut(auth, ":"); auth != "" && (!ok || user == "") {
				return fmt.Errorf("%w: --auth %q: want user:password", errUsage, auth)
			}
			opts := sender.Options{Profile: p, To: to, Server: server, Auth: auth, From: from, Timeout: timeout}
			if labPath != "" {
				layout, err := lab.ReadManifest(labPath)
				if err != nil {
					return fmt.Errorf("%w: %w", errConfig, err)
				}
				if err := useLab(&opts, layout); err != nil {
					return err
				}
				if resolverAddr != "" {
					// A validating resolver in front of a lab in signed
					// mode: it, not the lab, says what is authenticated.
					opts.Resolver = &sender.Resolver{Addr: resolverAddr}
				}
			} else if resolverAddr != "" {
				opts.Resolver = &sender.Resolver{Addr: resolverAddr}
			} else if server == "" {
				if opts.Resolver, err = sender.SystemResolver(); err != nil {
					return fmt.Errorf("%w: %w", errConfig, err)
				}
			}
			out, err := openTLSRPT(tlsrptPath)
			if err != nil {
				return err
			}
			defer out.close()
			rep, err := sender.Send(cmd.Context(), opts)
			if err != nil {
				if errors.Is(err, sender.ErrUsage) {
					return fmt.Errorf("%w: %w", errUsage, err)
				}
				return err
			}
			if f == "json" {
				if err := json.NewEncoder(env.stdout).Encode(rep); err != nil {
					return err
				}
			} else {
				wrapped(env.stdout, func(w io.Writer) {
					printReport(w, rep)
					if transcript {
						printTranscript(w, rep)
					}
				})
			}
			if out != nil {
				r := tlsrptReport(p.Name, time.Now(), []*sender.Report{rep})
				if err := out.write(r, r); err != nil {
					return err
				}
			}
			switch rep.Outcome {
			case result.Deferred:
				return exitError{code: exitDeferred}
			case result.Bounced:
				return exitError{code: exitBounced}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&profileName, "profile", "", "sender profile (mxlab profiles lists them)")
	cmd.Flags().StringVar(&to, "to", "", "recipient address")
	cmd.Flags().StringVar(&from, "from", "", "envelope sender (default mxlab@mxlab.invalid)")
	cmd.Flags().StringVar(&labPath, "lab", "", "a lab manifest: use that lab's DNS, CA and ports")
	cmd.Flags().StringVar(&server, "server", "", "deliver to host:port instead of the MX")
	cmd.Flags().StringVar(&resolverAddr, "resolver", "", "DNS resolver host:port (default: /etc/resolv.conf's first; with --lab, the lab's DNS: set it to ask a validating resolver in front of a lab in signed mode)")
	cmd.Flags().StringVar(&auth, "auth", "", "user:password for AUTH PLAIN after STARTTLS (submission)")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "timeout of each network step")
	cmd.Flags().StringVar(&tlsrptPath, "tlsrpt", "", "also write the sender's TLS-RPT report (RFC 8460 JSON) about this attempt to FILE")
	cmd.Flags().BoolVar(&transcript, "transcript", false, "also print the dialogue: C: what the sender sent, S: what the server replied, TLS: and sender: the steps between (text format; JSON always has it)")
	return cmd
}

// labRoots trusts the system roots and a running lab's CA.
func labRoots(layout *lab.Layout) (*x509.CertPool, error) {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	ca, err := certs.ReadCerts(layout.CACert)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	roots.AddCert(ca[0])
	return roots, nil
}

// useLab points an attempt at a running lab: its DNS, its CA (beside the
// system roots), its per-scenario ports and its MTA-STS policy hosts.
func useLab(opts *sender.Options, layout *lab.Layout) error {
	if err := labAnswers(layout); err != nil {
		return err
	}
	opts.Resolver = &sender.Resolver{Addr: layout.DNS}
	roots, err := labRoots(layout)
	if err != nil {
		return err
	}
	opts.Roots = roots
	opts.PortFor = layout.PortFor
	// The lab's MTA-STS policy hosts, where the manifest puts them.
	opts.HTTPSAddrFor = matrix.PolicyHostAddr(layout)
	return nil
}

// printReport is the ten-second read of an attempt.
func printReport(w io.Writer, r *sender.Report) {
	fmt.Fprintf(w, "%s → %s: %s", r.Profile, r.To, strings.ToUpper(string(r.Outcome)))
	if r.Reason != "" {
		fmt.Fprintf(w, " (%s)", r.Reason)
	}
	fmt.Fprintln(w)
	if r.TLS != nil {
		sni := "none"
		if r.TLS.SNISent != nil {
			sni = *r.TLS.SNISent
		}
		fmt.Fprintf(w, "  SNI sent: %s\n", sni)
		if r.TLS.AlertReceived != nil {
			fmt.Fprintf(w, "  TLS: server sent %s alert %d (%s)\n", r.TLS.AlertReceived.Level, r.TLS.AlertReceived.Code, r.TLS.AlertReceived.Name)
		} else if r.TLS.Version != nil {
			fmt.Fprintf(w, "  TLS: %s %s; certificate: %s\n", *r.TLS.Version, *r.TLS.Cipher, r.TLS.PKIX)
		}
	}
	if r.DANE.LookedUp {
		fmt.Fprintf(w, "  DANE: %s\n", r.DANE.Result)
	}
	for _, inf := range r.Inferred {
		fmt.Fprintf(w, "  inferred (%s): %s — %s\n", inf.Step, inf.What, inf.Why)
	}
	if r.BounceText != "" {
		// Only evidenced texts are quoted as the sender's (issue 15).
		switch r.BounceTextSource {
		case profiles.Measured, profiles.Documented:
			fmt.Fprintf(w, "  the sender says (%s): %s\n", r.BounceTextSource, r.BounceText)
		case profiles.Reconstructed:
			fmt.Fprintf(w, "  the sender's words are not known; reconstructed, not a quote: %s\n", r.BounceText)
		default:
			fmt.Fprintf(w, "  mxlab saw: %s\n", r.BounceText)
		}
	}
	for _, l := range r.Later {
		fmt.Fprintf(w, "  after %s: %s", l.After, l.Outcome)
		if l.Why != "" {
			fmt.Fprintf(w, " (%s)", l.Why)
		}
		fmt.Fprintln(w)
	}
}

// labAnswers asks the manifest's DNS server for the lab zone's SOA: a
// manifest left by a lab that has stopped would otherwise turn into a DNS
// verdict about the scenario (dns-servfail) instead of the real cause.
func labAnswers(layout *lab.Layout) error {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(layout.Zone), dns.TypeSOA)
	c := &dns.Client{Timeout: 2 * time.Second}
	if r, _, err := c.Exchange(q, layout.DNS); err != nil || r.Rcode != dns.RcodeSuccess {
		why := "no answer"
		if err != nil {
			why = err.Error()
		} else {
			why = dns.RcodeToString[r.Rcode]
		}
		return fmt.Errorf("%w: the lab's DNS server at %s (from the manifest) does not answer for %s: is the lab running? (%s)", errConfig, layout.DNS, layout.Zone, why)
	}
	return nil
}

// printTranscript prints the attempt's dialogue. The message body is one
// entry: only its first line is shown.
func printTranscript(w io.Writer, r *sender.Report) {
	fmt.Fprintln(w, "\ntranscript:")
	for _, l := range r.Transcript {
		if first, _, cut := strings.Cut(l, "\n"); cut {
			l = first + " …"
		}
		fmt.Fprintf(w, "  %s\n", l)
	}
}
