#!/usr/bin/env bash
# Benchmarks, with the machine they ran on. The lab's figures have no peer
# to compare with yet (the SMTP throughput ratio against Postfix's
# smtp-sink comes with the fidelity suite); they are reported as is.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "go: $(go version)"
go test -run '^$' -bench . -benchmem ./lab ./dnslab ./server
# The wire layer's cost against bare crypto/tls, measured in the same run.
go test -run '^$' -bench 'STARTTLSLab|HandshakeBareTLS' -count 5 ./server | awk '
  /^BenchmarkSTARTTLSLab/ {lab += $3; nl++}
  /^BenchmarkHandshakeBareTLS/ {bare += $3; nb++}
  END { if (nl && nb) printf "ratio: STARTTLS through the lab / bare crypto/tls handshake = %.2f (%.0f / %.0f ns)\n", (lab/nl)/(bare/nb), lab/nl, bare/nb }'
# Memory per idle plaintext session of the real `mxlab serve`: RSS growth
# over 1,000 connections past their banner (issue 14's target: 16 KiB).
go test -count=1 -run '^TestIdleConnectionMemory$' -v ./cmd/mxlab | grep -o 'idle plaintext sessions: .*'
# Plaintext throughput against Postfix's smtp-sink (issue 14's first
# figure), when Debian's postfix package provides smtp-sink and smtp-source.
if command -v smtp-sink >/dev/null && command -v smtp-source >/dev/null; then
  bench/sink.sh | grep -v '^sess='
else
  echo "sink ratio: skipped (smtp-sink and smtp-source are in Debian's postfix package)"
fi
