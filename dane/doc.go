// Package dane is the certificate side of DANE for SMTP (RFC 7672): given
// the TLSA records a sending MTA looked up for an MX host and the
// certificate chain that host presented in the TLS handshake, it says
// whether the server is authenticated, by which record, and if not, why,
// in words and in a stable code.
//
// Terms are those of RFC 6698, RFC 7671 and RFC 7672, with the acronyms of
// RFC 7218: a TLSA record has a certificate usage (PKIX-TA(0), PKIX-EE(1),
// DANE-TA(2), DANE-EE(3)), a selector (Cert(0): the whole certificate;
// SPKI(1): its SubjectPublicKeyInfo) and a matching type (Full(0): the
// selected bytes themselves; SHA2-256(1) or SHA2-512(2): their digest).
// The TLSA base domain is the MX host name the records were found under;
// the next-hop domain is the domain of the recipient address.
//
// What this package does not do is DNS. The caller has looked the records
// up at _25._tcp.<MX host> and knows the answer was DNSSEC-authenticated
// (RFC 7672 §2.2): an insecure answer means DANE does not apply at all, and
// such records must never reach [Verify].
//
// # The algorithm
//
// A sending MTA applies DANE to one MX host in these steps:
//
//  1. Convert the looked-up TLSA RRs into [Record] values ([FromRR]).
//  2. Keep the usable records ([Usable]). PKIX-TA(0) and PKIX-EE(1) are
//     unusable for SMTP (RFC 7672 §3.1.3; RFC 7671 §4.1: a poor fit for
//     opportunistic security, where no set of CAs is agreed); so are
//     usages, selectors and matching types the client does not know
//     (RFC 6698 §4.1), and records whose data is malformed: a digest of
//     the wrong length, or Full(0) data that does not parse (RFC 7671 §9,
//     "unusable or malformed"). When records exist but none is usable, the
//     client still must not send in cleartext: it uses TLS without
//     authenticating the server, "mandatory unauthenticated TLS"
//     (RFC 7672 §2.2). [Verify] reports that as [ReasonNoUsableRecords],
//     which is not a reason to defer.
//  3. Apply digest algorithm agility (RFC 7671 §9, strongestDigests):
//     among the usable records with the same usage and selector, only
//     those with the strongest digest present count, SHA2-512 over
//     SHA2-256, the order of Postfix's default tls_dane_digests =
//     "sha512 sha256"; Full(0) records always count. The records set
//     aside are reported with [DropWeakerDigest].
//  4. For each DANE-EE(3) record, compare it with the leaf certificate
//     only (matchEE). Names and validity dates are not checked: the
//     record alone binds the key to the server (RFC 7672 §3.1.1,
//     RFC 7671 §5.1).
//  5. For each DANE-TA(2) record (verifyTA), find the trust anchor: a
//     certificate of the presented chain other than the leaf whose
//     certificate or SPKI matches the record. Servers must send it, even a
//     self-signed root (RFC 7672 §3.1.2): a digest names an anchor but
//     cannot stand in for it. Only a record carrying the anchor itself may
//     stand in for one that was not sent: "2 0 0", which a client MUST
//     accept (RFC 7671 §5.2.2), and "2 1 0", which it is RECOMMENDED to
//     accept by checking that the top of the chain is signed by the key
//     (RFC 7671 §5.2.3).
//  6. Check that the leaf chains to that anchor through the presented
//     certificates, in any order (RFC 8446 §4.4.2): issuer names,
//     signatures, CA basic constraints, key usage and path length
//     (pathTo).
//  7. Check the validity dates of every certificate on that path, the
//     anchor's included (checkDates): unlike DANE-EE, DANE-TA chains
//     expire.
//  8. Check the leaf's names against the reference identifiers: the MX
//     host name and, if different, the next-hop domain (RFC 7672 §3.2.2),
//     with the wildcard rules of RFC 6125 §6.4.3 (matchNames, names.go).
//  9. The first record that verifies authenticates the server
//     ([Result.Verified], [Result.Matched]). If none does, the server is
//     not authenticated and the client must not deliver to it
//     (RFC 7672 §2.2); [Result.Reason] is the failure that got furthest
//     (a trust anchor whose leaf has the wrong name says more than a
//     record that matched nothing), and [Result.Postfix] renders the line
//     Postfix logs for it where that line was measured.
//
// Steps 5 to 8 follow OpenSSL, whose DANE code Postfix uses: chain, then
// dates, then names, and a DANE-TA record never matches the leaf itself
// (depth 0 is DANE-EE's). Extended key usage and name constraints are not
// checked.
package dane
