// Package realpeer is the test suite's one policy for real peers: the
// programs from Debian (OpenSSL, GnuTLS, swaks, dig, delv, unbound,
// Postfix, …) and the privileges (root, network namespaces) that tests
// drive to check the lab against software other than its own.
//
// A test asks for a peer with [Need] (a program, found and probed for what
// it can do) or [Require] (any other condition), and runs it with [Run],
// which bounds it in time and kills it by PID. What happens when a peer is
// missing is decided once, by the environment variable MXLAB_REAL_PEERS:
//
//   - "require": a missing peer fails the test with the command that
//     installs it. `make test` (and so CI) runs in this mode, so the suite
//     cannot pass without having measured the real peers.
//   - "auto" (the default when unset): a missing peer skips the test with
//     the same words; tests whose peers are present still run.
//   - "off": every real-peer test is skipped, present or not. `make unit`
//     runs in this mode: only Go is needed.
//
// MXLAB_SKIP_REAL_PEERS, the older switch, is refused with a message that
// names this one: there is one switch.
//
// Every skip is also appended, one line each, to the file named by
// MXLAB_REAL_PEERS_REPORT when it is set, so that `make test` can print
// which peers a run did without and why.
//
// scripts/install-test-deps.sh installs the same peers with the same
// probes; a peer added here is a need added there.
package realpeer
