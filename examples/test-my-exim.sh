#!/usr/bin/env bash
# Check your Exim's outgoing TLS behaviour against mxlab, in CI.
#
# Runs the lab and Debian 12's Exim 4.96 with YOUR configuration inside a
# network namespace (nothing touches the host's port 25 or its resolver)
# and a private mount namespace (nothing touches the host's /etc, /var or
# /usr), makes Exim deliver one message to each MX scenario the lab runs,
# and checks what Exim did against the EXPECT table below, using Exim's
# mainlog and the lab's session records. Exim is never installed: its
# .debs are fetched with `apt-get download` into a cache directory and
# unpacked with `dpkg -x` (Exim conflicts with Postfix). Needs root, a
# Debian 12 (bookworm) apt source, jq, and mxlab.
#
#   sudo ./test-my-exim.sh /etc/exim4/update-exim4.conf.conf [path/to/mxlab]
#   sudo ./test-my-exim.sh my-exim4.conf [path/to/mxlab]
#
# Your configuration is either
#   - Debian's update-exim4.conf.conf (the file `dpkg-reconfigure
#     exim4-config` writes; recognised by its dc_eximconfig_configtype
#     line). The script runs Debian's update-exim4.conf on it, with
#     Debian's conf.d/template, to make the configuration Exim reads. Put
#     macro overrides (MAIN_TLS_..., DANE, ...) in a file and name it in
#     MXLAB_EXIM_LOCALMACROS: it becomes /etc/exim4/exim4.conf.localmacros.
#   - or a whole Exim configuration (anything else): it becomes
#     /etc/exim4/exim4.conf, which Debian's binary reads first.
# MXLAB_EXIM_CONFIG_KIND=debian or =full overrides the guess.
#
# Edit EXPECT for your policy: "sent" (delivered over TLS),
# "sent-plaintext", "deferred" or "bounced"; or override entries with
# MXLAB_EXPECT="tlsa-mismatch=sent no-starttls=deferred". The scenarios
# come from the lab's manifest; an EXPECT entry the lab does not run, or a
# scenario EXPECT lacks, stops the script (exit 2). The defaults are what
# Debian's default configuration for an internet site does (measured:
# README, "CI recipes").
#
# Other settings (environment):
#   MXLAB_DEB_DIR   where the .debs are kept (default: the interop suite's,
#                   ${XDG_CACHE_HOME:-$HOME/.cache}/mxlab/debs)
#   MXLAB_CI_NET    the lab's MX addresses (default 192.0.2.0/24, routed
#                   locally in the namespace: Debian's dnslookup router
#                   ignores MX targets in 127/8 and the private ranges)
#   MXLAB_CI_TIMEOUT  bound, in seconds, of each wait (default 120)
#   MXLAB_CI_LOG_DIR  if set, Exim's mainlog, the lab's manifest, log and
#                   session records are copied there (for a CI artifact)
#
# Exit status: 0 every scenario as expected, 1 a difference, 2 a setup
# problem.
set -euo pipefail

declare -A EXPECT=(
  [baseline]=sent
  [no-starttls]=sent-plaintext
  [sni-reject]=sent
  [no-shared-cipher]=sent-plaintext
  [self-signed]=sent
  [tlsa-mismatch]=deferred
  [expired-cert]=sent
  [wrong-name-cert]=sent
  [no-chain]=sent
  [untrusted-root]=sent
  [tls10-only]=sent
  [starttls-454]=sent-plaintext
  [drop-after-220]=sent-plaintext
  [require-tls]=sent
  [proxied-a]=deferred
  [dnssec-bogus]=deferred
  [unsigned-zone]=sent
  [mta-sts-mismatch]=sent
  [mta-sts-testing]=sent
  [mta-sts-bad-cert]=sent
  [mta-sts-fetch-fail]=sent
)

die() { echo "test-my-exim: $*" >&2; exit 2; }
CONF=${1:?usage: $0 update-exim4.conf.conf|exim4.conf [mxlab]}
MXLAB=${2:-mxlab}
[ -r "$CONF" ] || die "cannot read $CONF"
CONF=$(realpath "$CONF")
[ "$(id -u)" -eq 0 ] || die "needs root (ip netns add, mount)"
command -v jq >/dev/null || die "jq is needed: apt-get install -y jq"
MXLAB=$(command -v "$MXLAB") || die "mxlab not found: go build -o mxlab ./cmd/mxlab"
MXLAB=$(realpath "$MXLAB")
for e in ${MXLAB_EXPECT:-}; do
  [[ $e == *=* ]] || die "MXLAB_EXPECT: '$e' is not scenario=verdict"
  EXPECT[${e%%=*}]=${e#*=}
done
KIND=${MXLAB_EXIM_CONFIG_KIND:-}
if [ -z "$KIND" ]; then
  if grep -q '^[[:space:]]*dc_eximconfig_configtype=' "$CONF"; then KIND=debian; else KIND=full; fi
fi
[ "$KIND" = debian ] || [ "$KIND" = full ] || die "MXLAB_EXIM_CONFIG_KIND=$KIND: want debian or full"
MACROS=${MXLAB_EXIM_LOCALMACROS:-}
[ -z "$MACROS" ] || { [ -r "$MACROS" ] && MACROS=$(realpath "$MACROS"); } || die "cannot read $MACROS"
NET=${MXLAB_CI_NET:-192.0.2.0/24}
BOUND=${MXLAB_CI_TIMEOUT:-120}

# 0. Debian 12's Exim, unpacked (the same cache as the interop suite).
DEBS=${MXLAB_DEB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mxlab/debs}
mkdir -p "$DEBS"
PKGS=(exim4-base exim4-config exim4-daemon-light)
for p in "${PKGS[@]}"; do
  compgen -G "$DEBS/${p}_*.deb" >/dev/null ||
    (cd "$DEBS" && apt-get download "$p") >&2 ||
    die "Debian package $p is missing: mkdir -p $DEBS && cd $DEBS && apt-get download ${PKGS[*]}"
done

NS=mxlab-ci-$$
T=$(mktemp -d)
chmod 755 "$T" # Exim's deliveries run as Debian-exim and must reach the spool
LAB_PID= EXIM_PID=
# stop PID: TERM, then wait (bounded) for it to be gone, then KILL.
stop() {
  kill -TERM "$1" 2>/dev/null || return 0
  timeout 30 tail --pid="$1" -f /dev/null || kill -KILL "$1" 2>/dev/null || true
}
cleanup() {
  if [ -n "${MXLAB_CI_LOG_DIR:-}" ]; then
    mkdir -p "$MXLAB_CI_LOG_DIR"
    cp "$T"/{mainlog,lab.json,lab.log,sessions.jsonl,exim.out} "$MXLAB_CI_LOG_DIR"/ 2>/dev/null || true
  fi
  [ -n "$EXIM_PID" ] && stop "$EXIM_PID"
  [ -n "$LAB_PID" ] && stop "$LAB_PID"
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "/etc/netns/$NS" "$T"
}
trap cleanup EXIT

ROOT=$T/root
for p in "${PKGS[@]}"; do
  debs=("$DEBS/${p}"_*.deb)
  dpkg -x "${debs[-1]}" "$ROOT"
done

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

# 1. A namespace whose resolver is the lab's DNS (it sets AD, so DANE
# applies), with NET routed to its loopback.
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" route add local "$NET" dev lo
mkdir -p "/etc/netns/$NS"
printf 'nameserver 127.0.0.1\noptions trust-ad\n' >"/etc/netns/$NS/resolv.conf"

# 2. The lab: one address per scenario on port 25, DNS on 53.
ip netns exec "$NS" "$MXLAB" serve --smtp-port 25 --smtp-net "$NET" --dns 127.0.0.1:53 \
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

# 3. Your Exim, in a private mount namespace: /usr gets the unpacked
# package on top (so /usr/sbin/exim4 is where the binary expects itself),
# /etc and /var an overlay whose changes stay in $T (the Debian-exim user,
# /etc/exim4, the spool and the log); /dev a tmpfs with real device nodes.
# Each message is delivered with -odf, "foreground" (synchronous)
# delivery: exim(8), Debian's exim4-base 4.96: "A delivery process is
# automatically started to deliver the message, and Exim waits for it to
# complete before proceeding"; after a temporary error the message stays
# queued and the reception process exits. So when the command returns,
# the attempt is in the mainlog: nothing to wait for.
OVL=$T/ovl
cat >"$T/exim.sh" <<EOF
set -euo pipefail
mount -t overlay overlay -o lowerdir=$ROOT/usr:/usr /usr
for d in etc var; do
  mkdir -p $OVL/\$d-u $OVL/\$d-w
  mount -t overlay overlay -o lowerdir=/\$d,upperdir=$OVL/\$d-u,workdir=$OVL/\$d-w /\$d
done
mount --bind /etc/netns/$NS/resolv.conf /etc/resolv.conf
mount -t tmpfs -o mode=755 tmpfs /dev
mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/zero c 1 5; mknod -m 666 /dev/urandom c 1 9; mknod -m 666 /dev/random c 1 8
getent group Debian-exim >/dev/null || groupadd -r Debian-exim
getent passwd Debian-exim >/dev/null || useradd -r -g Debian-exim -d /var/spool/exim4 -s /usr/sbin/nologin Debian-exim
[ -s /etc/mailname ] || echo client.ci.test >/etc/mailname
# What the package's postinst would leave (the default config reads them).
[ -e /etc/email-addresses ] || cp $ROOT/etc/email-addresses /etc/email-addresses 2>/dev/null || : >/etc/email-addresses
rm -rf /etc/exim4; cp -a $ROOT/etc/exim4 /etc/exim4
mkdir -p /var/spool/exim4 /var/log/exim4 /var/lib/exim4 /var/mail
chown -R Debian-exim:Debian-exim /var/spool/exim4 /var/log/exim4; chmod 750 /var/spool/exim4
if [ $KIND = debian ]; then
  cp $CONF /etc/exim4/update-exim4.conf.conf
  if [ -n "$MACROS" ]; then cp "$MACROS" /etc/exim4/exim4.conf.localmacros; fi
  update-exim4.conf
else
  cp $CONF /etc/exim4/exim4.conf
fi
exim4 -bV >$T/exim-bV.txt 2>&1 || { cat $T/exim-bV.txt >&2; exit 3; }
for s in ${SCENARIOS[*]}; do
  printf 'Subject: mxlab CI %s\n\ntest\n' "\$s" |
    exim4 -odf -f ci@client.ci.test "ci@ci.\$s.mxlab.test" || echo "exim4 -odf for \$s: exit \$?" >&2
done
cp /var/log/exim4/mainlog $T/mainlog
EOF
ip netns exec "$NS" timeout "$BOUND" unshare -m --propagation private bash "$T/exim.sh" >"$T/exim.out" 2>&1 &
EXIM_PID=$!
rc=0
wait "$EXIM_PID" || rc=$?
EXIM_PID=
if [ "$rc" -ne 0 ]; then
  echo "Exim did not run (exit $rc):" >&2
  cat "$T/exim.out" >&2
  exit 2
fi
head -1 "$T/exim-bV.txt"

# 4. What happened, and whether it is what you expect. A recipient's
# first verdict line in the mainlog: "=>" delivered (with X= when over
# TLS), "==" deferred, "**" bounced.
fail=0
for s in "${SCENARIOS[@]}"; do
  line=$(grep -E -m1 " (=>|==|\*\*) ci@ci\.$s\.mxlab\.test" "$T/mainlog" || true)
  case $line in
  *" => "*" X="*) got=sent ;;
  *" => "*) got=sent-plaintext ;;
  *" == "*) got=deferred ;;
  *" ** "*) got=bounced ;;
  *) got=none ;;
  esac
  tls=$(jq -rs --arg s "$s" '[.[] | select(.scenario == $s)] | last | if . == null then "-" else "\(if .alert_sent then "alert \(.alert_sent.code)" else (.tls.version // "plaintext") end) sni=\(.client_hello.sni // "none") \(.counts)" end' "$T/sessions.jsonl")
  verdict=ok
  [ "$got" = "${EXPECT[$s]}" ] || { verdict="EXPECTED ${EXPECT[$s]}"; fail=1; }
  printf '%-17s %-15s %-22s lab saw: %s\n' "$s" "$got" "$verdict" "$tls"
  [ "$verdict" = ok ] || echo "    ${line:-no verdict line for ci@ci.$s.mxlab.test in the mainlog (does your configuration queue local mail? see exim -bP queue_only)}"
done
if [ "$fail" -ne 0 ]; then
  echo "--- Exim's mainlog" >&2
  cat "$T/mainlog" >&2
fi
exit $fail
