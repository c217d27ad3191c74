#!/usr/bin/env bash
# Installs, from Debian's packages, everything the test suite drives: a C
# compiler for `go test -race`, TLS clients and reference servers, DNS
# clients, swaks with its TLS module, Postfix, and the libraries the
# unpacked Exim and sendmail need. Each need is checked by what the tool can
# do (a C program compiles and links, swaks can speak TLS), not only by the
# command's presence, and skipped when it is met. Postfix is installed
# without configuring or starting a system instance on port 25 (debconf
# preseed + policy-rc.d). Run as root, or it prints the command to run.
#
# internal/realpeer holds the same probes for the tests: a need added here
# is a peer added there.
set -euo pipefail

missing=()
need() { # need PACKAGES... -- PROBE...: install PACKAGES unless PROBE succeeds
  local pkgs=()
  while [ "$1" != "--" ]; do pkgs+=("$1"); shift; done
  shift
  if ! "$@" >/dev/null 2>&1; then
    echo "install-test-deps: ${pkgs[*]}: needed ($* failed)"
    missing+=("${pkgs[@]}")
  fi
}
has() { command -v "$1" || [ -x "/usr/sbin/$1" ]; }
# The race detector needs cgo, and cgo a compiler that links (gcc only
# Recommends libc6-dev, so check by linking a program).
cc_links() (
  d=$(mktemp -d)
  trap 'rm -rf "$d"' EXIT
  printf 'int main(void){return 0;}\n' >"$d/t.c"
  "${CC:-cc}" -o "$d/t" "$d/t.c"
)
# swaks only Recommends libnet-ssleay-perl; without it every TLS test
# fails with "TLS not available: requires Net::SSLeay".
swaks_tls() { swaks --support 2>&1 | grep -q '^=== TLS supported'; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

# `install-test-deps.sh bench`: only the benchmark harness's peers
# (make bench): Postfix's smtp-sink and smtp-source, aiosmtpd, and the
# namespace tools.
if [ "${1:-test}" = bench ]; then
  need postfix -- has smtp-sink
  need python3-aiosmtpd -- /usr/bin/python3 -c 'import aiosmtpd'
  need iproute2 -- has ip
  need util-linux -- has unshare
else
need gcc libc6-dev -- cc_links
need openssl -- has openssl
need gnutls-bin -- has gnutls-serv
need swaks libnet-ssleay-perl -- swaks_tls
need dnsutils -- has dig
# delv, the validating lookup tool of the DNSSEC tests, comes with
# bind9-dnsutils, which dnsutils depends on; say so in case it did not.
need bind9-dnsutils -- has delv
# unbound, the validating resolver the DNSSEC tests run in a network
# namespace with the lab's trust anchor. policy-rc.d (below) keeps the
# package from starting a system instance on port 53.
need unbound -- has unbound
need knot-dnsutils -- has kdig
need iproute2 -- has ip
need util-linux -- has unshare
need postfix -- has posttls-finger
# postfix-mta-sts-resolver: the MTA-STS policy service (mta-sts-daemon)
# of the MTA-STS fidelity test; policy-rc.d (below) keeps its service from
# starting. Checked by loading its Python modules, as internal/realpeer does.
need postfix-mta-sts-resolver -- mta-sts-daemon --help
need chromium -- has chromium
need curl -- has curl
need jq -- has jq
need podman -- has podman
need docker-compose -- has docker-compose
need make -- has make
need m4 -- has m4
# Libraries the unpacked (never installed) Exim and sendmail of the
# interop suite need at run time: apt-get download brings the packages,
# not their dependencies.
for lib in libdb5.3 libldap-2.5-0 liblockfile1 libnsl2 libsasl2-2 libsasl2-modules libwrap0 libgnutls-dane0 libidn12 libidn2-0 libpcre2-8-0 procps; do
  need "$lib" -- installed "$lib"
done
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: everything is installed"
  exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: need root to install ${missing[*]} (or install them yourself: apt-get install -y ${missing[*]})" >&2
  exit 1
fi
echo "install-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Never let a package start a daemon (a system Postfix on port 25, an
# unbound on port 53) while we install.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
# debconf-set-selections comes with debconf, which every Debian has.
echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"

# Check again: a package that installed but cannot do the job (a
# compiler that does not link, swaks without TLS) must stop here, not in
# the middle of the suite.
missing=()
if [ "${1:-test}" != bench ]; then
  need gcc libc6-dev -- cc_links
  need swaks libnet-ssleay-perl -- swaks_tls
fi
if [ ${#missing[@]} -ne 0 ]; then
  echo "install-test-deps: still not working after install: ${missing[*]}" >&2
  exit 1
fi
echo "install-test-deps: done"
