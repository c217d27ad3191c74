#!/usr/bin/env bash
# Installs, from Debian's packages, the real peers the test suite drives:
# TLS clients and reference servers, DNS clients, swaks and Postfix.
# Skips what is already installed. Postfix is installed without configuring
# or starting a system instance on port 25 (debconf preseed + policy-rc.d).
set -euo pipefail

# command -> package that provides it
declare -A want=(
  [openssl]=openssl
  [gnutls-cli]=gnutls-bin
  [gnutls-serv]=gnutls-bin
  [swaks]=swaks
  [dig]=dnsutils
  [kdig]=knot-dnsutils
  [ip]=iproute2
  [unshare]=util-linux
  [posttls-finger]=postfix
  [make]=make
  [m4]=m4
)
# Libraries the unpacked (never installed) Exim and sendmail of the
# interop suite need at run time: apt-get download brings the packages,
# not their dependencies.
libs=(libdb5.3 libldap-2.5-0 liblockfile1 libnsl2 libsasl2-2 libsasl2-modules libwrap0 libgnutls-dane0 libidn12 libidn2-0 libpcre2-8-0 procps)
missing=()
for cmd in "${!want[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${want[$cmd]}")
done
for lib in "${libs[@]}"; do
  dpkg-query -W -f='${Status}' "$lib" 2>/dev/null | grep -q "ok installed" || missing+=("$lib")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: everything is installed"
  exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "install-test-deps: installing ${missing[*]}"

if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: need root to install ${missing[*]} (or install them yourself: apt-get install -y ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Never let a package start a daemon (a system Postfix on port 25) while we install.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
