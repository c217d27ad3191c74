#!/usr/bin/env bash
# Check your Postfix client's TLS settings against mxlab, in CI.
#
# Runs the lab and a private Postfix instance with YOUR main.cf inside a
# network namespace (nothing touches the host's port 25 or its resolver),
# sends one message to each MX scenario, and checks what Postfix did
# against the EXPECT table below, using Postfix's log and the lab's
# session records. Needs root, Debian's postfix package, jq, and mxlab.
#
#   sudo ./test-my-postfix.sh /etc/postfix/main.cf [path/to/mxlab]
#
# Edit EXPECT for your policy: "sent" (delivered), "sent-plaintext",
# "deferred" or "bounced". The defaults are what smtp_tls_security_level
# = may does (measured: README, "Fidelity, measured").
set -euo pipefail

declare -A EXPECT=(
  [baseline]=sent
  [no-starttls]=sent-plaintext
  [sni-reject]=sent
  [no-shared-cipher]=deferred
  [self-signed]=sent
  [tlsa-mismatch]=sent
)

MAINCF=${1:?usage: $0 main.cf [mxlab]}
MXLAB=${2:-mxlab}
command -v jq >/dev/null || { echo "jq is needed: apt-get install -y jq" >&2; exit 2; }
[ -x /usr/lib/postfix/sbin/master ] || { echo "Postfix is needed: apt-get install -y postfix" >&2; exit 2; }
MXLAB=$(command -v "$MXLAB") || { echo "mxlab not found: go build -o mxlab ./cmd/mxlab" >&2; exit 2; }

NS=mxlab-ci-$$
T=$(mktemp -d)
chmod 755 "$T" # Postfix's daemons run as postfix and must reach the queue
LAB_PID= MASTER_PID=
cleanup() {
  [ -n "$MASTER_PID" ] && kill -TERM "$MASTER_PID" 2>/dev/null && sleep 1
  [ -n "$LAB_PID" ] && kill -TERM "$LAB_PID" 2>/dev/null
  wait 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "/etc/netns/$NS" "$T"
}
trap cleanup EXIT

# 1. A namespace whose resolver is the lab's DNS (it sets AD, so DANE applies).
ip netns add "$NS"
ip -n "$NS" link set lo up
mkdir -p "/etc/netns/$NS"
printf 'nameserver 127.0.0.1\noptions trust-ad\n' >"/etc/netns/$NS/resolv.conf"

# 2. The lab: one address per scenario on port 25, DNS on 53.
ip netns exec "$NS" "$MXLAB" serve --smtp-port 25 --smtp-net 127.0.1.0/24 --dns 127.0.0.1:53 \
  --state-dir "$T/state" --manifest "$T/lab.json" --sessions-file "$T/sessions.jsonl" 2>"$T/lab.log" &
LAB_PID=$!
for _ in $(seq 100); do [ -s "$T/lab.json" ] && break; sleep 0.2; done
[ -s "$T/lab.json" ] || { echo "the lab did not start:" >&2; cat "$T/lab.log" >&2; exit 1; }

# 3. Your Postfix, relocated into a private instance (your TLS settings stay).
mkdir -p "$T/pf/etc" "$T/pf/spool" "$T/pf/data"
cp "$MAINCF" "$T/pf/etc/main.cf"
cp /usr/share/postfix/master.cf.dist "$T/pf/etc/master.cf" 2>/dev/null || cp /etc/postfix/master.cf "$T/pf/etc/master.cf"
pc() { postconf -c "$T/pf/etc" "$@"; }
pc -e "queue_directory = $T/pf/spool" "data_directory = $T/pf/data" \
  "inet_interfaces = loopback-only" "inet_protocols = ipv4" "mydestination =" "relayhost =" \
  "myhostname = client.ci.test" "alias_maps =" "alias_database =" "transport_maps =" \
  "maillog_file_prefixes = $T" "maillog_file = $T/postfix.log" \
  "smtp_dns_support_level = dnssec" "smtp_connection_cache_on_demand = no" \
  "smtp_tls_CAfile = $(jq -r .ca_cert "$T/lab.json")"
pc -M# smtp/inet          # this instance only sends: no smtpd on port 25
pc -F '*/*/chroot = n'   # a chrooted smtp would not see the namespace's resolv.conf
pc -M 'postlog/unix-dgram=postlog unix-dgram n - n - 1 postlogd'
chown -R postfix "$T/pf/data"
postfix -c "$T/pf/etc" check
ip netns exec "$NS" /usr/lib/postfix/sbin/master -c "$T/pf/etc" -w ||
  { echo "Postfix did not start:" >&2; tail "$T/postfix.log" >&2; exit 1; }
MASTER_PID=$(tr -d ' ' <"$T/pf/spool/pid/master.pid")

# 4. One message to each scenario, each to its own domain.
for s in "${!EXPECT[@]}"; do
  printf 'Subject: mxlab CI %s\n\ntest\n' "$s" |
    ip netns exec "$NS" sendmail -C "$T/pf/etc" -f ci@client.ci.test "ci@ci.$s.mxlab.test"
done
for _ in $(seq 150); do
  n=$(grep -c 'to=<ci@ci\..*status=' "$T/postfix.log" 2>/dev/null || true)
  [ "${n:-0}" -ge "${#EXPECT[@]}" ] && break
  sleep 0.2
done

# 5. What happened, and whether it is what you expect.
fail=0
for s in baseline no-starttls sni-reject no-shared-cipher self-signed tlsa-mismatch; do
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
