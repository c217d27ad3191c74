#!/usr/bin/env bash
# Check your Postfix client's TLS settings against mxlab, in CI.
#
# Runs the lab and a private Postfix instance with YOUR main.cf inside a
# network namespace (nothing touches the host's port 25 or its resolver),
# sends one message to each MX scenario the lab runs, and checks what
# Postfix did against the EXPECT table below, using Postfix's log and the
# lab's session records. Needs root, Debian's postfix package, jq, and
# mxlab.
#
#   sudo ./test-my-postfix.sh /etc/postfix/main.cf [path/to/mxlab]
#
# Your main.cf keeps its TLS policy (smtp_tls_security_level, policy maps,
# ...). What aims any Postfix at the lab (its resolver, its CA, one
# delivery per connection, one TLS log line per handshake) is read from
# postfix/lab-client.cf, the file the interop suite and compose.yaml's
# Postfix use too, and applied on top: found beside this script
# ($(dirname "$0")/../postfix/lab-client.cf), or where
# MXLAB_LAB_CLIENT_CF says if you copy the script elsewhere.
#
# Edit EXPECT for your policy: "sent" (delivered), "sent-plaintext",
# "deferred" or "bounced"; or override entries with
# MXLAB_EXPECT="tlsa-mismatch=deferred no-starttls=deferred". The
# scenarios come from the lab's manifest; an EXPECT entry the lab does not
# run, or a scenario EXPECT lacks, stops the script (exit 2). The defaults
# are what smtp_tls_security_level = may does (measured: README,
# "Fidelity, measured").
#
# Other settings (environment):
#   MXLAB_CI_TIMEOUT  bound, in seconds, of each wait (default 120)
#   MXLAB_CI_LOG_DIR  if set, Postfix's log, the lab's manifest, log and
#                   session records are copied there (for a CI artifact)
#
# Exit status: 0 every scenario as expected, 1 a difference, 2 a setup
# problem.
set -euo pipefail

declare -A EXPECT=(
  [baseline]=sent
  [no-starttls]=sent-plaintext
  [sni-reject]=sent
  [no-shared-cipher]=deferred
  [self-signed]=sent
  [tlsa-mismatch]=sent
  [expired-cert]=sent
  [wrong-name-cert]=sent
  [no-chain]=sent
  [untrusted-root]=sent
  [tls10-only]=sent
  [starttls-454]=sent-plaintext
  [drop-after-220]=deferred
  [require-tls]=sent
  [proxied-a]=deferred
  [dnssec-bogus]=sent
  [unsigned-zone]=sent
  [mta-sts-mismatch]=sent
  [mta-sts-testing]=sent
  [mta-sts-bad-cert]=sent
  [mta-sts-fetch-fail]=sent
)

die() { echo "test-my-postfix: $*" >&2; exit 2; }
MAINCF=${1:?usage: $0 main.cf [mxlab]}
MXLAB=${2:-mxlab}
[ -r "$MAINCF" ] || die "cannot read $MAINCF"
command -v jq >/dev/null || die "jq is needed: apt-get install -y jq"
[ -x /usr/lib/postfix/sbin/master ] || die "Postfix is needed: apt-get install -y postfix"
MXLAB=$(command -v "$MXLAB") || die "mxlab not found: go build -o mxlab ./cmd/mxlab"
LABCF=${MXLAB_LAB_CLIENT_CF:-$(dirname "$0")/../postfix/lab-client.cf}
[ -r "$LABCF" ] || die "no lab client settings at $LABCF: set MXLAB_LAB_CLIENT_CF to mxlab's postfix/lab-client.cf"
for e in ${MXLAB_EXPECT:-}; do
  [[ $e == *=* ]] || die "MXLAB_EXPECT: '$e' is not scenario=verdict"
  EXPECT[${e%%=*}]=${e#*=}
done
BOUND=${MXLAB_CI_TIMEOUT:-120}

NS=mxlab-ci-$$
T=$(mktemp -d)
chmod 755 "$T" # Postfix's daemons run as postfix and must reach the queue
LAB_PID= MASTER_PID=
# stop PID: TERM, then wait (bounded) for it to be gone, then KILL.
stop() {
  kill -TERM "$1" 2>/dev/null || return 0
  timeout 30 tail --pid="$1" -f /dev/null || kill -KILL "$1" 2>/dev/null || true
}
cleanup() {
  if [ -n "${MXLAB_CI_LOG_DIR:-}" ]; then
    mkdir -p "$MXLAB_CI_LOG_DIR"
    cp "$T"/{postfix.log,lab.json,lab.log,sessions.jsonl} "$MXLAB_CI_LOG_DIR"/ 2>/dev/null || true
  fi
  [ -n "$MASTER_PID" ] && stop "$MASTER_PID"
  [ -n "$LAB_PID" ] && stop "$LAB_PID"
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "/etc/netns/$NS" "$T"
}
trap cleanup EXIT

# wait_for SECONDS PID FILE PATTERN [N]: until FILE has N lines matching
# PATTERN, or PID has exited, or SECONDS have passed. tail follows FILE
# (inotify: no sleep loop); once grep has counted N, the tail is stopped by
# its PID. (grep's output must not be /dev/null: GNU grep then stops at
# the first match and reads its input to the end.)
wait_for() {
  local fd tail_pid n
  exec {fd}< <(exec timeout "$1" tail --pid="$2" -n +1 -F "$3" 2>/dev/null)
  tail_pid=$!
  n=$(grep -c -m "${5:-1}" -E -- "$4" <&"$fd" || true)
  kill -TERM "$tail_pid" 2>/dev/null || true
  exec {fd}<&-
  [ "${n:-0}" -ge "${5:-1}" ]
}

# 1. A namespace whose resolver is the lab's DNS (it sets AD, so DANE applies).
ip netns add "$NS"
ip -n "$NS" link set lo up
mkdir -p "/etc/netns/$NS"
printf 'nameserver 127.0.0.1\noptions trust-ad\n' >"/etc/netns/$NS/resolv.conf"

# 2. The lab: one address per scenario on port 25, DNS on 53.
ip netns exec "$NS" "$MXLAB" serve --smtp-port 25 --smtp-net 127.0.1.0/24 --dns 127.0.0.1:53 \
  --state-dir "$T/state" --manifest "$T/lab.json" --sessions-file "$T/sessions.jsonl" 2>"$T/lab.log" &
LAB_PID=$!
wait_for "$BOUND" "$LAB_PID" "$T/lab.json" '"scenarios"' ||
  { echo "the lab did not start:" >&2; cat "$T/lab.log" >&2; exit 2; }

# The MX scenarios the lab runs, against EXPECT.
mapfile -t SCENARIOS < <(jq -r '.scenarios[] | select(.kind == "mx") | .name' "$T/lab.json")
bad=
for s in "${SCENARIOS[@]}"; do
  [ -n "${EXPECT[$s]+x}" ] || bad+=" the lab runs $s, which EXPECT lacks;"
done
for s in "${!EXPECT[@]}"; do
  [[ " ${SCENARIOS[*]} " == *" $s "* ]] || bad+=" EXPECT names $s, which the lab does not run;"
  [[ ${EXPECT[$s]} =~ ^(sent|sent-plaintext|deferred|bounced)$ ]] || bad+=" EXPECT[$s]=${EXPECT[$s]} is not sent, sent-plaintext, deferred or bounced;"
done
[ -z "$bad" ] || die "EXPECT does not fit the lab:$bad"

# 3. Your Postfix, relocated into a private instance (your TLS settings
# stay), with the lab client settings on top and the lab's CA where they
# look for it (${config_directory}/mxlab-ca.pem).
mkdir -p "$T/pf/etc" "$T/pf/spool" "$T/pf/data"
cp "$MAINCF" "$T/pf/etc/main.cf"
cp /usr/share/postfix/master.cf.dist "$T/pf/etc/master.cf" 2>/dev/null || cp /etc/postfix/master.cf "$T/pf/etc/master.cf"
cp "$(jq -r .ca_cert "$T/lab.json")" "$T/pf/etc/mxlab-ca.pem"
pc() { postconf -c "$T/pf/etc" "$@"; }
mapfile -t labcf < <(grep -Ev '^[[:space:]]*(#|$)' "$LABCF")
pc -e "${labcf[@]}"
pc -e "queue_directory = $T/pf/spool" "data_directory = $T/pf/data" \
  "inet_interfaces = loopback-only" "mydestination =" "relayhost =" \
  "myhostname = client.ci.test" "myorigin = \$myhostname" "alias_maps =" "alias_database =" "transport_maps =" \
  "maillog_file_prefixes = $T" "maillog_file = $T/postfix.log"
pc -M# smtp/inet          # this instance only sends: no smtpd on port 25
pc -F '*/*/chroot = n'   # a chrooted smtp would not see the namespace's resolv.conf
pc -M 'postlog/unix-dgram=postlog unix-dgram n - n - 1 postlogd'
chown -R postfix "$T/pf/data"
postfix -c "$T/pf/etc" check 2>&1 ||
  { echo "postfix check failed on this configuration:" >&2; pc -n >&2; exit 2; }
ip netns exec "$NS" /usr/lib/postfix/sbin/master -c "$T/pf/etc" -w ||
  { echo "Postfix did not start:" >&2; tail "$T/postfix.log" >&2; exit 2; }
MASTER_PID=$(tr -d ' ' <"$T/pf/spool/pid/master.pid")

# 4. One message to each scenario, each to its own domain; then wait for
# a status= line (the first attempt's verdict) for every one of them.
for s in "${SCENARIOS[@]}"; do
  printf 'Subject: mxlab CI %s\n\ntest\n' "$s" |
    ip netns exec "$NS" sendmail -C "$T/pf/etc" -f ci@client.ci.test "ci@ci.$s.mxlab.test"
done
wait_for "$BOUND" "$MASTER_PID" "$T/postfix.log" 'to=<ci@ci\..*status=' "${#SCENARIOS[@]}" ||
  echo "not every message had a verdict within ${BOUND}s" >&2

# 5. What happened, and whether it is what you expect.
fail=0
for s in "${SCENARIOS[@]}"; do
  line=$(grep "to=<ci@ci.$s.mxlab.test>" "$T/postfix.log" | grep -m1 'status=' || true)
  status=$(sed -n 's/.*status=\([a-z]*\).*/\1/p' <<<"$line")
  tls=$(jq -rs --arg s "$s" '[.[] | select(.scenario == $s)] | last | if . == null then "-" else "\(if .alert_sent then "alert \(.alert_sent.code)" else (.tls.version // "plaintext") end) sni=\(.client_hello.sni // "none") \(.counts)" end' "$T/sessions.jsonl")
  got=$status
  [ "$status" = sent ] && [[ $tls == plaintext* ]] && got=sent-plaintext
  verdict=ok
  [ "$got" = "${EXPECT[$s]}" ] || { verdict="EXPECTED ${EXPECT[$s]}"; fail=1; }
  printf '%-17s %-15s %-22s lab saw: %s\n' "$s" "${got:-none}" "$verdict" "$tls"
  [ "$verdict" = ok ] || echo "    $line"
done
exit $fail
