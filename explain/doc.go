// Package explain reads a bounce or a log line about a failed TLS delivery,
// as users paste it, and says what it means: the TLS alert or error it
// encodes, what the receiving side did, the usual causes, the lab scenario
// that reproduces it, the command to reproduce it, and the fix.
//
// The steps, one file each:
//
//  1. normalize.go undoes what pasting does to a text: "> " quoting,
//     quoted-printable soft line breaks, and lines wrapped at 76 columns,
//     which may cut a word or an error code in two.
//  2. decode.go decodes what TLS libraries print: OpenSSL 1.x and 3 and
//     BoringSSL packed error codes (error:0A000417:...), "SSL alert number N",
//     GnuTLS's "Received alert [N]" and its error strings, Go's and rustls's
//     alert names, and reasons that are no alert (no shared cipher, wrong
//     version number, dh key too small, a timeout); every alert is mapped
//     through package tlsalert.
//  3. reply.go decodes the SMTP reply the text quotes: its code and
//     enhanced status (RFC 3463), whether it says the receiver requires
//     TLS (or a newer TLS version), whether it refuses STARTTLS itself
//     (454), and the issuer of a certificate the sender did not trust (a
//     public CA's, a private one, or none named); connection.go decodes
//     a connection lost before TLS and the step of the dialogue it was
//     lost at (before the greeting, after EHLO or STARTTLS), or refused.
//  4. patterns.go recognises the MTAs' own wordings (Postfix, Exim,
//     sendmail, Gmail, Microsoft 365, Stalwart, mox, maddy, swaks, ...):
//     who wrote the text, on which side of the connection, and what kind
//     of failure it reports, including failures on the sending side (its
//     TLS policy, its TLSA lookup).
//  5. answer.go reasons from those parts: a specific wording decides the
//     kind; else a receiver that requires TLS; else a refused STARTTLS;
//     else a decoded alert; else a library reason; else a connection
//     lost before TLS; else a generic wording. knowledge.go holds, per
//     kind and per alert, what the receiving side did, the usual causes
//     and the fix; a scenario is named only when the parts decide it, and
//     which one is data (reproduces.yaml), not code.
//  6. candidates.go ranks the readings the parts leave open, from
//     candidates.yaml, per kind or per kind and detail (what the text
//     says about a certificate, the alert's name): each with the
//     scenario that reproduces it ("" for none of the lab's) and what
//     tells it apart ("unable to get local issuer certificate" leaves
//     no-chain, untrusted-root and the sender's own CA list open).
//  7. reproduce.go turns a scenario into the command that reproduces it
//     against a running lab, reading everything about the scenario (which
//     profiles fail there and why, its SNI rule, its certificate, STARTTLS,
//     TLSA) from the catalogue: no code here branches on a scenario's name.
//  8. dsn.go finds the diagnostic text in a whole delivery status
//     notification (ExplainMessage).
//
// A text that carries no TLS delivery failure the package knows gets an
// Answer with Known false: "not a TLS delivery failure I know".
package explain
