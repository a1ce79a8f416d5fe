#!/bin/sh
# Entrypoint of the nginx container (docker-compose.yml): render nginx/weapp.conf.template for this
# environment (nginx/render.sh reads NGINX_*, GATEWAY_UPSTREAM, REALTIME_WS_UPSTREAM, TLS_CERT, TLS_KEY),
# check it, then become nginx in the foreground as PID 1. POSIX sh: the official image has no bash.
set -eu
run_dir=${NGINX_RUN_DIR:-/run/weapp-nginx}
for file in "${TLS_CERT:?}" "${TLS_KEY:?}"; do
  if [ ! -r "$file" ]; then
    echo "nginx: $file is missing: put cert.pem and key.pem in TLS_CERT_DIR (see .env.example;" \
      "sh nginx/make-cert.sh certs localhost makes a self-signed pair for a test)" >&2
    exit 1
  fi
done
mkdir -p "$run_dir"
sh /etc/nginx/weapp/render.sh "$run_dir"
nginx -t -q -c "$run_dir/nginx.conf"
exec nginx -c "$run_dir/nginx.conf" -g 'daemon off;'
