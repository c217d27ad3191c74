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
//     alert names; every alert is mapped through package tlsalert.
//  3. patterns.go recognises the MTAs' own wordings (Postfix, Exim,
//     sendmail, Gmail, Microsoft 365, swaks, ...): who wrote the text, on
//     which side of the connection, and what kind of failure it reports.
//  4. knowledge.go holds, per kind and per alert, what the receiving side
//     did, the usual causes ranked, the scenario and the fix.
//  5. reproduce.go turns a scenario into the command that reproduces it
//     against a running lab.
//  6. answer.go puts it together (Explain); dsn.go finds the diagnostic
//     text in a whole delivery status notification (ExplainMessage).
//
// A text that carries no TLS delivery failure the package knows gets an
// Answer with Known false: "not a TLS delivery failure I know".
package explain
