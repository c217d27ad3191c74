#!/usr/bin/env bash
# make bench: issue 14's figures, each a ratio against a peer measured in
# the same run, with the machine they ran on. Installs the peers from
# Debian first (Postfix's smtp-sink and smtp-source, aiosmtpd); the bare
# TLS server and the same-bytes alert server are built here
# (bench/mxbench). Every load goes past 10,000 sessions per server and
# round, in 5 alternating rounds, in a private network namespace.
#
#   ROUNDS=5 SESSIONS=12000 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
sessions=${SESSIONS:-12000}
./scripts/install-test-deps.sh bench
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
echo "go: $(go version)"
echo
echo "### Plaintext sink (smtp-source -s 50 -l 10240, one message per session)"
bench/sink.sh "$rounds" "$sessions"
echo
echo "### STARTTLS and alert sessions"
bench/tls.sh "$rounds" "$sessions"
echo
echo "### Memory per idle session (RSS growth of mxlab serve / connections)"
go test -count=1 -run '^TestIdleConnectionMemory$' -v ./cmd/mxlab | grep -o 'idle sessions .*'
echo
echo "### In-process benchmarks (go test -bench; one change, one benchmark)"
go test -run '^$' -bench 'SessionPlain|PipelinedRSET|STARTTLSLab|HandshakeBareTLS|Alert|SessionLogAdd' -benchmem -count 1 ./server | grep '^Benchmark'
