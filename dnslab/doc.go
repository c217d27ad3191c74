// Package dnslab is the lab's embedded DNS server: authoritative for the lab
// zone (mxlab.test. by default), over UDP and TCP on one address, and
// answering the way a validating resolver answers a stub, so that real DANE
// clients (Postfix with smtp_dns_support_level = dnssec, dig, kdig) trust it.
//
// # Why it pretends to validate
//
// A DANE client does not validate DNSSEC itself: it asks its resolver with
// the DO or AD bit set and trusts the AD bit in the answer (RFC 6840 §5.7,
// RFC 4035 §3.2.3; Postfix's dns_lookup() turns on RES_TRUSTAD for that).
// The lab signs nothing. Instead the server sets AD on every answer from the
// zone, positive and negative alike, when the query asked for DNSSEC with DO
// or AD, except below the owners listed in [Zone.Insecure], which reproduce
// an unsigned part of a zone. Without DO and AD it never sets AD, as a
// resolver would not (RFC 6840 §5.7).
//
// Postfix probes its resolver before trusting it: its dnssec_probe asks
// ". NS" and wants an answer with AD. That is the one name outside the zone
// the server answers; every other outside name is REFUSED.
//
// # How a query is answered
//
// [NewHandler] compiles a [Zone] once (zone.go, compile): canonical names,
// the empty non-terminals between each owner and the apex, and the SOA, NS
// and NS address synthesized when the records lack them. Its ServeDNS then,
// for each query (handler.go, respond):
//
//  1. ignores responses (QR set); answers FORMERR to more than one OPT
//     record, NOTIMP to opcodes other than QUERY, BADVERS to EDNS versions
//     other than 0, FORMERR to a message without exactly one question, and
//     REFUSED to classes other than IN and ANY;
//  2. answers ". NS" with "ns.<origin>", the resolver probe;
//  3. REFUSES names outside the zone, and zone transfers;
//  4. looks the name up in the zone following RFC 1034 §4.3.2 step 3
//     (answer.go, index.resolve): the records of the asked type; a CNAME,
//     followed inside the zone; NODATA with the SOA in authority when the
//     name exists, or exists only because a name below it does (an empty
//     non-terminal, RFC 4592 §2.2.2); otherwise synthesis from the wildcard
//     "*.<closest encloser>" (RFC 4592 §3.3.1, index.lookup); otherwise
//     NXDOMAIN with the SOA (RFC 2308 §2.1, §3);
//  5. sets AA, RA and AD, and echoes EDNS (RFC 6891 §6.1.1, UDP size 1232);
//  6. truncates a UDP answer to the client's advertised size, setting TC
//     (RFC 1035 §4.2.1, RFC 6891 §6.2.5), and logs the query at debug level
//     (ServeDNS, logQuery).
//
// [Start] runs the handler on one address for both UDP and TCP and returns
// once both listen; [ParseRecords] turns the records a configuration adds,
// in zone-file syntax, into records for a [Zone].
package dnslab
