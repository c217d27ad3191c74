#!/bin/sh
# Starts compose.yaml's Postfix: waits for the lab's manifest (the lab
# writes it once every listener answers), points the resolver at the lab,
# takes the lab CA, writes main.cf from lab-client.cf and runs Postfix in
# the foreground, logging to stdout.
set -eu
here=/etc/postfix/mxlab
# The lab's state volume, mounted at the lab's own path, so the paths in
# its manifest hold here too.
state=${MXLAB_STATE_DIR:-/var/lib/mxlab}
i=0
until [ -s "$state/lab.json" ]; do
  i=$((i + 1))
  [ "$i" -le 300 ] || { echo "start.sh: no lab manifest at $state/lab.json" >&2; exit 1; }
  sleep 1
done
# /etc/resolv.conf is a bind mount: rewrite it in place, never by rename.
cat "$here/resolv.conf" >/etc/resolv.conf
ca=$(sed -n 's/.*"ca_cert": *"\([^"]*\)".*/\1/p' "$state/lab.json")
cp "$ca" /etc/postfix/mxlab-ca.pem
{
  cat "$here/lab-client.cf"
  cat <<CF
compatibility_level = 3.6
myhostname = postfix.compose.test
mydestination =
relayhost =
alias_maps =
alias_database =
maillog_file = /dev/stdout
smtp_tls_security_level = ${POSTFIX_TLS_LEVEL:-may}
mynetworks = 127.0.0.0/8 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16
smtpd_relay_restrictions = permit_mynetworks, reject
transport_maps = texthash:/etc/postfix/transport
CF
} >/etc/postfix/main.cf
# Mail to anyone@switchboard goes to the lab's switchboard; every other
# domain by its MX in the lab's zone.
echo "switchboard smtp:[127.0.0.1]:10024" >/etc/postfix/transport
postconf -M# smtp/inet
postconf -M "2525/inet=2525 inet n - n - - smtpd"
# A chrooted smtp would not see /etc/resolv.conf.
postconf -F '*/*/chroot = n'
postconf -M 'postlog/unix-dgram=postlog unix-dgram n - n - 1 postlogd'
postfix check
exec postfix start-fg
