#!/bin/sh
# Renders nginx/weapp.conf.template into <out-dir>/nginx.conf, a complete main configuration:
#   nginx/render.sh <out-dir> && nginx -c <out-dir>/nginx.conf -g 'daemon off;'
# Settings come from the environment (each one, its default and meaning: nginx/README.md). POSIX sh and
# sed only. Exits non-zero, naming the variable, when a value is malformed.
set -eu

usage='usage: nginx/render.sh <out-dir>'
[ $# -eq 1 ] || { echo "$usage" >&2; exit 2; }
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
template="$here/weapp.conf.template"
mkdir -p -- "$1"
out=$(CDPATH='' cd -- "$1" && pwd)

fail () { echo "render.sh: $*" >&2; exit 1; }

# Validation helpers: sed stands in for grep, so the script needs nothing but sh and sed.
matches () { [ "$(printf '%s\n' "$2" | sed -n "\\#$1#p")" = "$2" ]; }
no_newline () { [ "$(printf '%s\n' "$2" | sed -n '$=')" = 1 ] || fail "$1 must be a single line"; }
port () {
  case $2 in ''|*[!0-9]*) fail "$1 must be a port number (got '$2')" ;; esac
  [ "$2" -ge 1 ] && [ "$2" -le 65535 ] || fail "$1 must be between 1 and 65535 (got $2)"
}
bytes () { case $2 in ''|*[!0-9]*) fail "$1 must be a number of bytes (got '$2')" ;; esac; }
on_off () { case $2 in on|off) ;; *) fail "$1 must be on or off (got '$2')" ;; esac; }
host_port () { matches '^\([A-Za-z0-9][A-Za-z0-9._-]*\|\[[0-9A-Fa-f:.]*\]\):[0-9][0-9]*$' "$2" || fail "$1 must be host:port (got '$2')"; }
# A value written inside double quotes in the configuration: no quote, variable, backslash or newline.
quotable () {
  no_newline "$1" "$2"
  case $2 in *'"'*|*'$'*|*'\'*) fail "$1 must not contain \", \$ or \\ (got '$2')" ;; esac
}
path () { quotable "$1" "$2"; case $2 in /*) ;; *) fail "$1 must be an absolute path (got '$2')" ;; esac; }

NGINX_SERVER_NAME=${NGINX_SERVER_NAME:-localhost}
NGINX_HTTP_PORT=${NGINX_HTTP_PORT:-80}
NGINX_HTTPS_PORT=${NGINX_HTTPS_PORT:-443}
NGINX_PUBLIC_HTTPS_PORT=${NGINX_PUBLIC_HTTPS_PORT:-$NGINX_HTTPS_PORT}
NGINX_LISTEN_ADDRESS=${NGINX_LISTEN_ADDRESS:-}
NGINX_LISTEN_IPV6=${NGINX_LISTEN_IPV6:-off}
GATEWAY_UPSTREAM=${GATEWAY_UPSTREAM:-127.0.0.1:8080}
REALTIME_WS_UPSTREAM=${REALTIME_WS_UPSTREAM:-127.0.0.1:8083}
NGINX_WS_DIRECT=${NGINX_WS_DIRECT:-on}
NGINX_WS_TIMEOUT=${NGINX_WS_TIMEOUT:-3600s}
TLS_CERT=${TLS_CERT:-$out/cert.pem}
TLS_KEY=${TLS_KEY:-$out/key.pem}
TLS_TRUSTED_CERT=${TLS_TRUSTED_CERT:-}
NGINX_OCSP_STAPLING=${NGINX_OCSP_STAPLING:-off}
NGINX_RESOLVER=${NGINX_RESOLVER:-}
NGINX_HSTS=${NGINX_HSTS-max-age=31536000}
NGINX_HTTP2=${NGINX_HTTP2:-auto}
NGINX_ACME_ROOT=${NGINX_ACME_ROOT:-}
NGINX_REAL_IP_FROM=${NGINX_REAL_IP_FROM:-}
BODY_LIMIT=${BODY_LIMIT:-65536}
PUSH_BODY_LIMIT=${PUSH_BODY_LIMIT:-65536}
ADMIN_UPLOAD_LIMIT=${ADMIN_UPLOAD_LIMIT:-2097152}
NGINX_LOGIN_RATE=${NGINX_LOGIN_RATE:-1r/s}
NGINX_LOGIN_BURST=${NGINX_LOGIN_BURST:-30}
NGINX_LOGIN_CONN=${NGINX_LOGIN_CONN:-20}
NGINX_WS_RATE=${NGINX_WS_RATE:-10r/s}
NGINX_WS_BURST=${NGINX_WS_BURST:-100}
NGINX_WS_CONN=${NGINX_WS_CONN:-500}
NGINX_RUN_DIR=${NGINX_RUN_DIR:-$out}
NGINX_USER=${NGINX_USER:-}
NGINX_WORKER_PROCESSES=${NGINX_WORKER_PROCESSES:-auto}
NGINX_WORKER_CONNECTIONS=${NGINX_WORKER_CONNECTIONS:-4096}
NGINX_ACCESS_LOG=${NGINX_ACCESS_LOG:-/dev/stdout}
NGINX_ERROR_LOG_LEVEL=${NGINX_ERROR_LOG_LEVEL:-warn}
NGINX_BIN=${NGINX_BIN:-nginx}

no_newline NGINX_SERVER_NAME "$NGINX_SERVER_NAME"
matches '^[A-Za-z0-9.*_~^:-][A-Za-z0-9.*_~^: -]*$' "$NGINX_SERVER_NAME" \
  || fail "NGINX_SERVER_NAME must be server names separated by spaces (got '$NGINX_SERVER_NAME')"
port NGINX_HTTP_PORT "$NGINX_HTTP_PORT"
port NGINX_HTTPS_PORT "$NGINX_HTTPS_PORT"
port NGINX_PUBLIC_HTTPS_PORT "$NGINX_PUBLIC_HTTPS_PORT"
[ -z "$NGINX_LISTEN_ADDRESS" ] || matches '^\([0-9.]*\|\[[0-9A-Fa-f:.]*\]\|[A-Za-z0-9.-]*\)$' "$NGINX_LISTEN_ADDRESS" \
  || fail "NGINX_LISTEN_ADDRESS must be an IPv4 address, [IPv6] or a host name (got '$NGINX_LISTEN_ADDRESS')"
on_off NGINX_LISTEN_IPV6 "$NGINX_LISTEN_IPV6"
host_port GATEWAY_UPSTREAM "$GATEWAY_UPSTREAM"
on_off NGINX_WS_DIRECT "$NGINX_WS_DIRECT"
[ "$NGINX_WS_DIRECT" = off ] || host_port REALTIME_WS_UPSTREAM "$REALTIME_WS_UPSTREAM"
matches '^[0-9][0-9]*[smhd]\{0,1\}$' "$NGINX_WS_TIMEOUT" || fail "NGINX_WS_TIMEOUT must be a duration such as 3600s or 1h (got '$NGINX_WS_TIMEOUT')"
path TLS_CERT "$TLS_CERT"
path TLS_KEY "$TLS_KEY"
[ -z "$TLS_TRUSTED_CERT" ] || path TLS_TRUSTED_CERT "$TLS_TRUSTED_CERT"
on_off NGINX_OCSP_STAPLING "$NGINX_OCSP_STAPLING"
if [ -n "$NGINX_RESOLVER" ]; then
  matches '^[][0-9A-Za-z.:= -]*$' "$NGINX_RESOLVER" || fail "NGINX_RESOLVER must be addresses (and resolver parameters) separated by spaces (got '$NGINX_RESOLVER')"
fi
[ "$NGINX_OCSP_STAPLING" = off ] || [ -n "$NGINX_RESOLVER" ] \
  || fail 'NGINX_OCSP_STAPLING=on needs NGINX_RESOLVER (a DNS server nginx asks for the OCSP responder)'
quotable NGINX_HSTS "$NGINX_HSTS"
case $NGINX_HTTP2 in auto|directive|listen) ;; *) fail "NGINX_HTTP2 must be auto, directive or listen (got '$NGINX_HTTP2')" ;; esac
[ -z "$NGINX_ACME_ROOT" ] || path NGINX_ACME_ROOT "$NGINX_ACME_ROOT"
if [ -n "$NGINX_REAL_IP_FROM" ]; then
  matches '^[0-9A-Fa-f.:/, ]*$' "$NGINX_REAL_IP_FROM" || fail "NGINX_REAL_IP_FROM must be addresses or CIDRs separated by commas (got '$NGINX_REAL_IP_FROM')"
fi
bytes BODY_LIMIT "$BODY_LIMIT"
bytes PUSH_BODY_LIMIT "$PUSH_BODY_LIMIT"
bytes ADMIN_UPLOAD_LIMIT "$ADMIN_UPLOAD_LIMIT"
rate () { matches '^[1-9][0-9]*r/[sm]$' "$2" || fail "$1 must be requests per second or minute, e.g. 1r/s or 30r/m (got '$2')"; }
count () { matches '^[1-9][0-9]*$' "$2" || fail "$1 must be a whole number of at least 1 (got '$2')"; }
burst () { matches '^[0-9][0-9]*$' "$2" || fail "$1 must be a whole number (got '$2')"; }
rate NGINX_LOGIN_RATE "$NGINX_LOGIN_RATE"
burst NGINX_LOGIN_BURST "$NGINX_LOGIN_BURST"
count NGINX_LOGIN_CONN "$NGINX_LOGIN_CONN"
rate NGINX_WS_RATE "$NGINX_WS_RATE"
burst NGINX_WS_BURST "$NGINX_WS_BURST"
count NGINX_WS_CONN "$NGINX_WS_CONN"
path NGINX_RUN_DIR "$NGINX_RUN_DIR"
[ -z "$NGINX_USER" ] || matches '^[A-Za-z0-9_][A-Za-z0-9_.-]*\( [A-Za-z0-9_][A-Za-z0-9_.-]*\)\{0,1\}$' "$NGINX_USER" \
  || fail "NGINX_USER must be 'user' or 'user group' (got '$NGINX_USER')"
matches '^\(auto\|[1-9][0-9]*\)$' "$NGINX_WORKER_PROCESSES" || fail "NGINX_WORKER_PROCESSES must be auto or a number (got '$NGINX_WORKER_PROCESSES')"
bytes NGINX_WORKER_CONNECTIONS "$NGINX_WORKER_CONNECTIONS"
[ "$NGINX_ACCESS_LOG" = off ] || path NGINX_ACCESS_LOG "$NGINX_ACCESS_LOG"
case $NGINX_ERROR_LOG_LEVEL in debug|info|notice|warn|error|crit|alert|emerg) ;; *) fail "NGINX_ERROR_LOG_LEVEL must be an nginx log level (got '$NGINX_ERROR_LOG_LEVEL')" ;; esac

# Derived values.
listen_prefix=${NGINX_LISTEN_ADDRESS:+$NGINX_LISTEN_ADDRESS:}
HTTP_LISTEN=$listen_prefix$NGINX_HTTP_PORT
HTTPS_LISTEN=$listen_prefix$NGINX_HTTPS_PORT
if [ "$NGINX_PUBLIC_HTTPS_PORT" = 443 ]; then PUBLIC_HTTPS_PORT_SUFFIX=''; else PUBLIC_HTTPS_PORT_SUFFIX=":$NGINX_PUBLIC_HTTPS_PORT"; fi
# A multipart upload is the file plus up to 64 KiB of parts (the gateway's MULTIPART_OVERHEAD).
UPLOAD_BODY_LIMIT=$((ADMIN_UPLOAD_LIMIT + 65536))
if [ "$NGINX_WS_DIRECT" = on ]; then WS_UPGRADE_UPSTREAM=weapp_realtime; else WS_UPGRADE_UPSTREAM=weapp_gateway; fi
if [ "$NGINX_ACCESS_LOG" = off ]; then ACCESS_LOG=off; else ACCESS_LOG="\"$NGINX_ACCESS_LOG\" weapp_json"; fi
REAL_IP_DIRECTIVES=''
if [ -n "$NGINX_REAL_IP_FROM" ]; then
  for cidr in $(printf '%s\n' "$NGINX_REAL_IP_FROM" | sed 's/,/ /g'); do
    REAL_IP_DIRECTIVES="${REAL_IP_DIRECTIVES}set_real_ip_from $cidr; "
  done
  REAL_IP_DIRECTIVES="${REAL_IP_DIRECTIVES}real_ip_header X-Forwarded-For; real_ip_recursive on;"
fi

# HTTP/2: nginx >= 1.25.1 has `http2 on;` and deprecates `listen ... http2` (still accepted, with a
# warning); older nginx (Debian bookworm's 1.22) knows only the listen parameter.
http2_mode=$NGINX_HTTP2
if [ "$http2_mode" = auto ]; then
  http2_mode=listen
  version=$("$NGINX_BIN" -v 2>&1 | sed -n 's|^.*nginx/\([0-9][0-9]*\)\.\([0-9][0-9]*\)\.\([0-9][0-9]*\).*$|\1 \2 \3|p' || true)
  if [ -n "$version" ]; then
    # shellcheck disable=SC2086
    set -- $version
    if [ "$1" -gt 1 ] || { [ "$1" -eq 1 ] && { [ "$2" -gt 25 ] || { [ "$2" -eq 25 ] && [ "$3" -ge 1 ]; }; }; }; then http2_mode=directive; fi
  fi
fi
if [ "$http2_mode" = directive ]; then HTTP2_LISTEN_PARAM=''; else HTTP2_LISTEN_PARAM=' http2'; fi

# The sed program: every ${NAME}, then the conditional lines ("#@NAME directive") kept or dropped.
esc () { printf '%s' "$1" | sed 's/[\\&|]/\\&/g'; }
script="$out/.render.sed"
: > "$script"
sub () { printf 's|\\${%s}|%s|g\n' "$1" "$(esc "$2")" >> "$script"; }
cond () { if [ "$2" = yes ]; then printf 's|^\\([[:space:]]*\\)#@%s |\\1|\n' "$1"; else printf '/^[[:space:]]*#@%s /d\n' "$1"; fi >> "$script"; }
yes_if () { if eval "$1"; then echo yes; else echo no; fi; }

for name in NGINX_SERVER_NAME NGINX_HTTP_PORT NGINX_HTTPS_PORT GATEWAY_UPSTREAM REALTIME_WS_UPSTREAM \
  NGINX_WS_TIMEOUT TLS_CERT TLS_KEY TLS_TRUSTED_CERT NGINX_RESOLVER NGINX_HSTS NGINX_ACME_ROOT BODY_LIMIT \
  PUSH_BODY_LIMIT HTTP_LISTEN HTTPS_LISTEN PUBLIC_HTTPS_PORT_SUFFIX UPLOAD_BODY_LIMIT WS_UPGRADE_UPSTREAM \
  ACCESS_LOG REAL_IP_DIRECTIVES HTTP2_LISTEN_PARAM NGINX_LOGIN_RATE NGINX_LOGIN_BURST NGINX_LOGIN_CONN \
  NGINX_WS_RATE NGINX_WS_BURST NGINX_WS_CONN; do
  eval "value=\$$name"
  # shellcheck disable=SC2154
  sub "$name" "$value"
done
cond WS_DIRECT "$(yes_if '[ "$NGINX_WS_DIRECT" = on ]')"
cond IPV6 "$(yes_if '[ "$NGINX_LISTEN_IPV6" = on ]')"
cond HTTP2_DIRECTIVE "$(yes_if '[ "$http2_mode" = directive ]')"
cond OCSP "$(yes_if '[ "$NGINX_OCSP_STAPLING" = on ]')"
cond TRUSTED_CERT "$(yes_if '[ -n "$TLS_TRUSTED_CERT" ]')"
cond RESOLVER "$(yes_if '[ -n "$NGINX_RESOLVER" ]')"
cond ACME "$(yes_if '[ -n "$NGINX_ACME_ROOT" ]')"
cond REAL_IP "$(yes_if '[ -n "$NGINX_REAL_IP_FROM" ]')"

http_part=$(sed -f "$script" "$template")
rm -f "$script"
left=$(printf '%s\n' "$http_part" | sed -n -e '/\${[A-Z_][A-Z0-9_]*}/p' -e '/^[[:space:]]*#@/p')
[ -z "$left" ] || fail "unrendered template lines (render.sh and the template disagree):
$left"

mkdir -p -- "$NGINX_RUN_DIR"
user_line='# user: workers run as the user nginx was started as (or its built-in default when that is root)'
if [ "$(id -u)" = 0 ]; then
  # Workers (not root) need to reach the temp directories nginx creates for them here.
  chmod 0755 "$NGINX_RUN_DIR"
  [ -z "$NGINX_USER" ] || user_line="user $NGINX_USER;"
fi

tmp="$out/.nginx.conf.$$"
{
  cat <<EOF
# Generated by nginx/render.sh from nginx/weapp.conf.template: change those (or the environment), not this file.
$user_line
worker_processes $NGINX_WORKER_PROCESSES;
# Two descriptors per proxied connection (client and upstream).
worker_rlimit_nofile $((NGINX_WORKER_CONNECTIONS * 2));
pid "$NGINX_RUN_DIR/nginx.pid";
error_log stderr $NGINX_ERROR_LOG_LEVEL;

events {
    worker_connections $NGINX_WORKER_CONNECTIONS;
}

http {
    # Only proxied APIs (and ACME challenge files): a handful of types is all nginx needs to know.
    types {
        text/plain       txt;
        text/html        html;
        application/json json;
    }
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65s;

    # Everything nginx writes lives under NGINX_RUN_DIR, so it runs as any user.
    client_body_temp_path "$NGINX_RUN_DIR/client_body";
    proxy_temp_path       "$NGINX_RUN_DIR/proxy";
    fastcgi_temp_path     "$NGINX_RUN_DIR/fastcgi";
    uwsgi_temp_path       "$NGINX_RUN_DIR/uwsgi";
    scgi_temp_path        "$NGINX_RUN_DIR/scgi";

EOF
  printf '%s\n' "$http_part" | sed -e 's/^\(.\)/    \1/'
  echo '}'
} > "$tmp"
mv -f "$tmp" "$out/nginx.conf"
echo "render.sh: wrote $out/nginx.conf (https on ${HTTPS_LISTEN}, http/2 via $http2_mode, gateway $GATEWAY_UPSTREAM, websocket upgrades to $WS_UPGRADE_UPSTREAM)" >&2
