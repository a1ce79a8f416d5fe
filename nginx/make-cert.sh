#!/bin/sh
# A self-signed certificate for local use: <dir>/cert.pem and <dir>/key.pem (RSA 2048, SHA-256, 825 days),
# valid for [hostname] (default localhost), localhost, 127.0.0.1 and ::1.
#   nginx/make-cert.sh <dir> [hostname]
# An existing pair is kept (so a mounted real certificate is never overwritten); MAKE_CERT_FORCE=1 replaces it.
# Clients must be told to trust cert.pem (curl --cacert, NODE_EXTRA_CA_CERTS, the OS store); a WeChat
# mini-program on a phone never will: production needs a certificate from a real CA (nginx/README.md).
set -eu

[ $# -ge 1 ] && [ $# -le 2 ] || { echo 'usage: nginx/make-cert.sh <dir> [hostname]' >&2; exit 2; }
dir=$1
host=${2:-localhost}
case $host in
  ''|*[!A-Za-z0-9.:-]*) echo "make-cert.sh: '$host' is not a host name or IP address" >&2; exit 2 ;;
esac
command -v openssl >/dev/null 2>&1 || { echo 'make-cert.sh: openssl is not installed (apt-get install openssl)' >&2; exit 1; }

mkdir -p -- "$dir"
if [ -s "$dir/cert.pem" ] && [ -s "$dir/key.pem" ] && [ "${MAKE_CERT_FORCE:-}" != 1 ]; then
  echo "make-cert.sh: $dir/cert.pem and key.pem exist, kept (MAKE_CERT_FORCE=1 to replace them)" >&2
  exit 0
fi

# The hostname as a DNS name or an IP address (anything with a colon, or only digits and dots, is an IP).
case $host in
  *:*|*[!0-9.]*) case $host in *:*) san="IP:$host" ;; *) san="DNS:$host" ;; esac ;;
  *) san="IP:$host" ;;
esac
for extra in DNS:localhost IP:127.0.0.1 IP:::1; do
  [ "$extra" = "$san" ] || san="$san,$extra"
done

umask 077
tmp_key="$dir/.key.pem.$$"
tmp_cert="$dir/.cert.pem.$$"
trap 'rm -f "$tmp_key" "$tmp_cert"' EXIT
if ! log=$(openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 825 \
  -keyout "$tmp_key" -out "$tmp_cert" \
  -subj "/CN=$host" \
  -addext "subjectAltName=$san" \
  -addext 'extendedKeyUsage=serverAuth' 2>&1); then
  printf '%s\n' "$log" >&2
  echo 'make-cert.sh: openssl could not make the certificate' >&2
  exit 1
fi
chmod 0644 "$tmp_cert"
mv -f "$tmp_key" "$dir/key.pem"
mv -f "$tmp_cert" "$dir/cert.pem"
trap - EXIT
echo "make-cert.sh: wrote $dir/cert.pem and $dir/key.pem for $san" >&2
