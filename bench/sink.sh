#!/usr/bin/env bash
# Plaintext sink throughput, issue 14's first figure: mxlab's no-starttls
# scenario (default configuration: in-memory store, sessions file,
# accepted file, transcripts) against Postfix's smtp-sink and aiosmtpd's
# Sink handler, all driven by Postfix's smtp-source with the same
# arguments, in alternating rounds, in one private network namespace.
# A bare Go sink built in the harness runs too, as a floor. Each message
# is its own session, so a round goes past 10,000 sessions
# (where the session log's copy of every kept record used to start).
#
#   bench/sink.sh [ROUNDS] [MESSAGES]     (default 5 rounds of 12000)
set -euo pipefail
rounds=${1:-5}
messages=${2:-12000}
cd "$(dirname "$0")/.."
. bench/lib.sh
for tool in smtp-sink smtp-source; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found (Debian's postfix package; make bench installs it)" >&2; exit 69; }
done
bench_ns "$0" "$@"

ip link set lo up
bench_machine
echo "load: smtp-source -s 50 -m $messages -l 10240 (one message per session), $rounds alternating rounds"
bench_lab no-starttls
lab_addr=$(bench_site no-starttls smtp)
sink_addr=127.0.0.1:10099
sink_user=()
[ "$(id -u)" = 0 ] && sink_user=(-u nobody)
smtp-sink "${sink_user[@]}" "$sink_addr" 1000 >/dev/null &
bench_pids+=($!)
# A bare Go sink (mxbench sink-server): what Go's runtime alone costs a
# sink on this machine, the floor under the lab's own figure.
bench_server gosink_addr "$BENCH_TMP/gosink.out" "$BENCH_TMP/mxbench" sink-server -addr 127.0.0.1:0
servers=("mxlab no-starttls=lab" "smtp-sink=sink" "Go sink (mxbench)=gosink")
# aiosmtpd: Debian's python3-aiosmtpd, with Debian's python3 (not a
# python3 earlier on PATH without the module).
if /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
  /usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:10098 -c aiosmtpd.handlers.Sink 2>"$BENCH_TMP/aiosmtpd.log" &
  bench_pids+=($!)
  servers+=("aiosmtpd=aio")
else
  echo "aiosmtpd: not installed (python3-aiosmtpd), left out"
fi
# Wait until each peer answers, rather than for a time.
for addr in "$sink_addr" 127.0.0.1:10098; do
  for _ in $(seq 100); do "$BENCH_TMP/mxbench" banner -addr "$addr" >/dev/null 2>&1 && break; sleep 0.1; done
done

# source ADDR: messages per second of one round.
source_rate() {
  local start end
  start=$(date +%s.%N)
  smtp-source -s 50 -m "$messages" -l 10240 -f bench@client.test -t postmaster@no-starttls.mxlab.test "$1" >&2 ||
    { echo "bench: smtp-source against $1 failed" >&2; return 1; }
  end=$(date +%s.%N)
  awk -v n="$messages" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", n / (e - s) }'
}
lab() { source_rate "$lab_addr"; }
sink() { source_rate "$sink_addr"; }
aio() { source_rate 127.0.0.1:10098; }
gosink() { source_rate "$gosink_addr"; }

bench_rounds "plaintext sink" msgs/s 0.8 "$rounds" "${servers[@]}"
