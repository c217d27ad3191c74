// Package interop measures the lab against real MTAs: it runs them in a
// private network namespace beside `mxlab serve`, records what they did
// to every scenario, and compares that with what mxlab predicts for them.
//
// TestFidelityPostfix, in the package's tests, does it for Postfix:
//  1. a network namespace whose resolver is the lab's DNS
//     (docs/interop-recipe.md §1), with `mxlab serve` in the shared-port layout
//     inside it (every scenario on port 25, one address each);
//  2. a private Postfix instance (docs/interop-recipe.md §4), run once per
//     smtp_tls_security_level (may, encrypt, dane, verify) with one
//     recipient domain per scenario below the scenario's domain;
//  3. the outcome of each delivery from Postfix's maillog (ParseMaillog)
//     and the lab's session records of its connections;
//  4. `mxlab send --profile postfix-<level>` for the same cell, and the
//     comparison: outcome, DSN, status text (Normalize), SNI, and whether
//     the lab's record agrees with Postfix about TLS and the message; for
//     a first attempt that deferred at may (or where the profile predicts
//     a later delivery), also the retry against the profile's `later`
//     (docs/interop-recipe.md §6a). First attempts run at Postfix's
//     default backoff, which no loaded machine reaches; the retry is
//     triggered on purpose (backoff lowered, master reloaded, postqueue
//     -f), and attempts are numbered by the order of their status= lines
//     (Attempts), never by time.
//
// A killed test run cannot clean up after itself; the next run removes
// what it left (sweep): namespaces mxlab-interop-<pid> of dead
// processes, their /etc/netns directories, and the processes and
// directories listed in <TMPDIR>/mxlab-interop-<pid>.pids.
//
// The table it prints (Markdown) is the measured fidelity of the postfix-*
// profiles. A real peer that is missing ends the test as the suite's
// real-peer policy says (internal/realpeer: MXLAB_REAL_PEERS=require fails
// it with the command that installs the peer, auto skips it, off skips
// every such test); MXLAB_FIDELITY_REPORT names a file for a copy of the
// table.
package interop
