// Package tlsrpt is SMTP TLS Reporting (RFC 8460): the aggregate report a
// sending MTA sends a recipient domain about the TLS sessions it tried,
// written from the sender's attempts, checked, parsed, received over
// HTTPS or mail, and kept for the lab's API.
//
// A report (RFC 8460 §4, [Report]) names who sends it and the UTC day it
// covers, then one entry per policy the sender applied: the policy
// (MTA-STS "sts", DANE "tlsa", or "no-policy-found"), how many sessions
// negotiated TLS as the policy asked (total-successful-session-count,
// §4.2.1), how many did not (total-failure-session-count, §4.2.2), and the
// failures grouped by result type (§4.3) and receiving host.
//
// Writing one from the lab's sender ([FromAttempts]), per attempt:
//  1. which policy applied: tlsa when the attempt found usable,
//     authenticated TLSA records (or its TLSA lookup failed for a host of
//     an authenticated MX, RFC 7672 §2.1.1), else sts when an MTA-STS
//     policy applied or its fetch failed, else no-policy-found
//     (appliedPolicy);
//  2. whether the TLS session failed, and as what result type: the
//     sender's reason through [result.Reason.RFC8460], or a failure the
//     sender carried on past (classify);
//  3. the receiving MX, its address and its greeting from the attempt's
//     steps (receiving);
//  4. counts summed per policy domain and policy type, failures per
//     result type, host and reason code.
//
// Reading one ([Parse], [FromMessage]): the media types of RFC 8460 §6.4
// and §6.5, sizes bounded before anything is decompressed or decoded,
// and the structure checked by [Validate] before the report is returned.
// [Handler] is the HTTPS endpoint of §5.4; [Store] keeps what arrives.
package tlsrpt
