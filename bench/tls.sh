#!/usr/bin/env bash
# STARTTLS and alert sessions per second, issue 14's second and third
# figures, in one private network namespace with alternating rounds:
#   - baseline: connect, EHLO, STARTTLS, TLS 1.3, QUIT, against bare
#     crypto/tls handshakes with the same certificate (mxbench tls-server);
#   - sni-reject: connect, EHLO, STARTTLS, a ClientHello with the MX name
#     as SNI, alert 47, against a server that writes the same banner, EHLO
#     reply, 220 and alert (mxbench alert-server copies them from the lab).
# The load is mxbench drive, 50 sessions at once, in all four cases.
#
#   bench/tls.sh [ROUNDS] [SESSIONS]     (default 5 rounds of 12000)
set -euo pipefail
rounds=${1:-5}
sessions=${2:-12000}
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_ns "$0" "$@"

ip link set lo up
bench_machine
echo "load: mxbench drive -c 50 -n $sessions per server and round, $rounds alternating rounds"
bench_lab baseline sni-reject
base=$(bench_site baseline smtp)
base_mx=$(bench_site baseline mx)
sni=$(bench_site sni-reject smtp)
sni_mx=$(bench_site sni-reject mx)
bench_server bare "$BENCH_TMP/bare" "$BENCH_TMP/mxbench" tls-server \
  -cert "$(bench_site baseline cert)" -key "$(bench_site baseline key)"
bench_server alerter "$BENCH_TMP/alerter" "$BENCH_TMP/mxbench" alert-server -copy "$sni" -sni "$sni_mx"

drive() { "$BENCH_TMP/mxbench" drive -c 50 -n "$sessions" "$@"; }
lab_starttls() { drive -mode starttls -addr "$base" -sni "$base_mx"; }
bare_tls() { drive -mode tls -addr "$bare" -sni "$base_mx"; }
lab_alert() { drive -mode alert -addr "$sni" -sni "$sni_mx"; }
same_bytes() { drive -mode alert -addr "$alerter" -sni "$sni_mx"; }

echo "== STARTTLS sessions"
bench_rounds "STARTTLS sessions" sessions/s 0.8 "$rounds" "mxlab baseline=lab_starttls" "bare crypto/tls=bare_tls"
echo "== alert 47 sessions"
bench_rounds "alert sessions" sessions/s 0.8 "$rounds" "mxlab sni-reject=lab_alert" "same bytes=same_bytes"
