#!/usr/bin/env bash
# Plaintext sink throughput, issue 14's first figure: mxlab's no-starttls
# scenario (default configuration: in-memory store, sessions file,
# transcripts) against Postfix's smtp-sink, both driven by Postfix's
# smtp-source with the same arguments, in alternating rounds, in one
# private network namespace (unshare: nothing else on its loopback).
# Prints each round, then the median and spread of each server and the
# ratio of the medians.
#
#   bench/sink.sh [ROUNDS] [MESSAGES]     (default 5 rounds of 12000)
#
# Each message is its own session, so a round goes past 10,000 sessions
# (where the session log's copy of every kept record used to start).
set -euo pipefail
rounds=${1:-5}
messages=${2:-12000}
cd "$(dirname "$0")/.."
if [ -z "${MXLAB_BENCH_NS:-}" ]; then
  for tool in smtp-sink smtp-source unshare ip; do
    command -v "$tool" >/dev/null || { echo "bench: $tool not found (smtp-sink and smtp-source are in Debian's postfix package)" >&2; exit 69; }
  done
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  bin=${MXLAB_BIN:-}  # an mxlab binary to measure instead of building this tree
  if [ -z "$bin" ]; then go build -o "$tmp/mxlab" ./cmd/mxlab; bin=$tmp/mxlab; fi
  # As root, a network namespace alone (smtp-sink then drops to nobody);
  # otherwise a user namespace that keeps the user's id, so smtp-sink
  # does not think it runs as root.
  ns=(unshare --user --map-current-user --net)
  [ "$(id -u)" = 0 ] && ns=(unshare --net)
  MXLAB_BENCH_NS=1 MXLAB_BENCH_BIN="$bin" MXLAB_BENCH_TMP="$tmp" "${ns[@]}" "$0" "$rounds" "$messages"
  exit
fi

ip link set lo up
tmp=$MXLAB_BENCH_TMP
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load: smtp-source -s 50 -m $messages -l 10240 (one message per session), $rounds alternating rounds"

"$MXLAB_BENCH_BIN" serve --ephemeral --state-dir "$tmp/state" --manifest "$tmp/lab.json" \
  --scenario no-starttls 2>"$tmp/lab.log" &
lab=$!
sink_pid=""
cleanup() { kill "$lab" 2>/dev/null || true; [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 300); do [ -s "$tmp/lab.json" ] && break; sleep 0.1; done
lab_addr=$(sed -n 's/.*"smtp": "\(.*\)".*/\1/p' "$tmp/lab.json" | head -1)
sink_addr=127.0.0.1:10099
sink_user=()
[ "$(id -u)" = 0 ] && sink_user=(-u nobody)
smtp-sink "${sink_user[@]}" "$sink_addr" 1000 >/dev/null &
sink_pid=$!
sleep 0.5

# run ADDR: messages per second of one round.
run() {
  local start end
  start=$(date +%s.%N)
  smtp-source -s 50 -m "$messages" -l 10240 -f bench@client.test -t postmaster@no-starttls.mxlab.test "$1" >&2 ||
    { echo "bench: smtp-source against $1 failed" >&2; return 1; }
  end=$(date +%s.%N)
  awk -v n="$messages" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", n / (e - s) }'
}

lab_rates=() sink_rates=()
for r in $(seq "$rounds"); do
  l=$(run "$lab_addr") || exit 1
  s=$(run "$sink_addr") || exit 1
  lab_rates+=("$l") sink_rates+=("$s")
  echo "round $r: mxlab $l msgs/s, smtp-sink $s msgs/s"
done

# median RATE...: the median; spread RATE...: min-max.
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { printf "%.0f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { printf '%s\n' "$@" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%d-%d", lo, hi }'; }
lm=$(median "${lab_rates[@]}"); sm=$(median "${sink_rates[@]}")
echo "mxlab no-starttls: median $lm msgs/s (spread $(spread "${lab_rates[@]}"))"
echo "smtp-sink:         median $sm msgs/s (spread $(spread "${sink_rates[@]}"))"
awk -v l="$lm" -v s="$sm" 'BEGIN { printf "ratio: mxlab / smtp-sink = %.3f (issue 14 target: 0.8)\n", l / s }'
