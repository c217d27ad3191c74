// Package dnslab is the lab's embedded DNS server: authoritative for the lab
// zone (mxlab.test. by default), over UDP and TCP on one address, signed
// with DNSSEC, and answering either as a validating resolver answers a stub,
// so that real DANE clients (Postfix with smtp_dns_support_level = dnssec,
// dig, kdig) trust it directly, or as a plain authoritative server for a
// real validator (unbound, delv) to validate.
//
// # A signed zone, and two modes
//
// The zone is signed for real (dnssec.go, denial.go; RFC 4033-4035): a
// key-signing key (DNSKEY flags 257) signs the DNSKEY RRset, a
// zone-signing key (256) every other RRset, both ECDSA P-256 (algorithm
// 13); an NSEC chain over the zone's names proves every NXDOMAIN and NODATA
// and every answer synthesized from a wildcard (RFC 4035 §3.1.3, RFC 4592).
// The zone is signed once, when the handler is built. Answers carry the
// RRSIGs and NSECs when the query sets DO (RFC 4035 §3.1.1). [Zone.Insecure]
// names are insecure delegations: child zones without DS, served unsigned
// by the same server. [Zone.Bogus] RRsets carry signatures that do not
// verify. A validator is given the key-signing key as its trust anchor
// ([Keys.TrustAnchor], [FormatTrustAnchor]).
//
// A DANE client does not validate DNSSEC itself: it asks its resolver with
// the DO or AD bit set and trusts the AD bit in the answer (RFC 6840 §5.7,
// RFC 4035 §3.2.3; Postfix's dns_lookup() turns on RES_TRUSTAD for that).
// So the server has two modes ([Mode]):
//
//   - [ModeAD], the default, stands in for a validating resolver, for
//     setups that have none (the sender in-process, Postfix pointed at the
//     lab): it sets AD on every answer from the signed zone, positive and
//     negative alike, when the query asked for DNSSEC with DO or AD, none
//     below an insecure delegation, and answers SERVFAIL for a bogus RRset
//     as a validator would (RFC 4035 §5.5). Without DO and AD it never sets
//     AD, as a resolver would not (RFC 6840 §5.7).
//   - [ModeSigned] is the zone's authoritative server and nothing more: it
//     never sets AD; a real validating resolver with the trust anchor
//     (unbound, delv) does.
//
// Postfix probes its resolver before trusting it: its dnssec_probe asks
// ". NS" and wants an answer with AD. That is the one name outside the zone
// the server answers; every other outside name is REFUSED.
//
// # How a query is answered
//
// [NewHandler] compiles a [Zone] once (zone.go, compile): canonical names,
// the empty non-terminals between each owner and the apex, the SOA, NS and
// NS address synthesized when the records lack them, a child SOA and NS at
// each insecure delegation, and the signatures. Its ServeDNS then,
// for each query (handler.go, respond):
//
//  1. ignores responses (QR set); answers FORMERR to more than one OPT
//     record, NOTIMP to opcodes other than QUERY, BADVERS to EDNS versions
//     other than 0, FORMERR to a message without exactly one question, and
//     REFUSED to classes other than IN and ANY;
//  2. answers ". NS" with "ns.<origin>", the resolver probe;
//  3. REFUSES names outside the zone, and zone transfers;
//  4. looks the name up in the zone following RFC 1034 §4.3.2 step 3
//     (answer.go, index.resolve), in the child zone for a name at or below
//     an insecure delegation except its DS: the records of the asked type,
//     with their RRSIGs for DO; a CNAME, followed inside the zone; NODATA with the SOA in authority when the
//     name exists, or exists only because a name below it does (an empty
//     non-terminal, RFC 4592 §2.2.2); otherwise synthesis from the wildcard
//     "*.<closest encloser>" (RFC 4592 §3.3.1, index.lookup); otherwise
//     NXDOMAIN with the SOA (RFC 2308 §2.1, §3); for DO, the NSEC records
//     that prove a denial or a wildcard answer (denial.go);
//  5. in ModeAD answers SERVFAIL for a bogus RRset unless the query set CD;
//  6. sets AA, RA and AD, and echoes EDNS (RFC 6891 §6.1.1, UDP size 1232);
//  7. truncates a UDP answer to the client's advertised size, setting TC
//     (RFC 1035 §4.2.1, RFC 6891 §6.2.5), and logs the query at debug level
//     (ServeDNS, logQuery).
//
// [Start] runs the handler on one address for both UDP and TCP and returns
// once both listen; [ParseRecords] turns the records a configuration adds,
// in zone-file syntax, into records for a [Zone].
package dnslab
