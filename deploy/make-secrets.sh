#!/bin/sh
# Writes the secret files docker-compose.yml mounts as Docker secrets (the services read them through
# <NAME>_FILE, so no secret sits in an environment variable), each a fresh random value from openssl:
#
#   sh deploy/make-secrets.sh [dir]          # dir: SECRETS_DIR, default ./secrets
#
# A file that exists is kept, so a second run only fills in what is missing (delete a file to rotate it,
# and the files derived from it: see below). The values are hex (or base64 letters and digits), so the
# connection URLs need no escaping.
#
# app_secret, the mini-program's AppSecret (mp.weixin.qq.com → 开发 → 开发管理), cannot be made here: write
# it into <dir>/app_secret, or give it once as APP_SECRET=... in the environment. With the simulator
# (`docker compose --profile dev`) any 32 hex characters do: APP_SECRET=$(openssl rand -hex 16).
# The push Token and EncodingAESKey are made here: enter the same values in the console (开发管理 →
# 消息推送配置), or replace the files with the ones the console shows.
#
# Derived files: redis_url from redis_conf's password, session_mongo_url and cs_mongo_url from the service
# passwords and MONGO_DB (default weapp: run with the MONGO_DB of your .env). MongoDB users are created from
# the password files on the first start of an empty mongo-data volume (deploy/mongo-init/).
set -eu

dir=${1:-${SECRETS_DIR:-./secrets}}
mongo_db=${MONGO_DB:-weapp}
command -v openssl >/dev/null 2>&1 || { echo "make-secrets.sh: openssl is needed" >&2; exit 1; }
case $mongo_db in ''|*[!A-Za-z0-9_-]*) echo "make-secrets.sh: MONGO_DB must be letters, digits, '_' or '-' (got '$mongo_db')" >&2; exit 1 ;; esac

umask 077
mkdir -p -- "$dir"
chmod 700 "$dir"

# name value: written only when the file is missing or empty.
write () {
  [ -s "$dir/$1" ] && return 0
  printf '%s\n' "$2" > "$dir/$1"
  echo "make-secrets.sh: wrote $dir/$1" >&2
}
first_line () { sed -n '1p' "$dir/$1"; }
hex () { openssl rand -hex "$1"; }
# 43 letters and digits: an EncodingAESKey as the console's 随机生成 makes one.
aes_key () {
  key=''
  while [ "${#key}" -lt 43 ]; do key=$key$(openssl rand -base64 48 | tr -dc 'A-Za-z0-9'); done
  printf '%s' "$key" | cut -c1-43
}

write internal_token "$(hex 32)"
write admin_api_keys "ops:$(hex 32)"
write metrics_token "$(hex 32)"
write wechat_token "$(hex 16)"
write wechat_encoding_aes_key "$(aes_key)"

# Redis reads its password from a configuration file (no secret on its command line).
write redis_conf "requirepass $(hex 32)"
redis_password=$(sed -n 's/^requirepass //p' "$dir/redis_conf")
[ -n "$redis_password" ] || { echo "make-secrets.sh: $dir/redis_conf has no requirepass line" >&2; exit 1; }
write redis_url "redis://:$redis_password@redis:6379"

# MongoDB: the root account (the image's init only), and one readWrite user per service on MONGO_DB.
write mongo_root_password "$(hex 32)"
write mongo_session_password "$(hex 32)"
write mongo_cs_password "$(hex 32)"
write session_mongo_url "mongodb://weapp-session:$(first_line mongo_session_password)@mongo:27017/?authSource=$mongo_db"
write cs_mongo_url "mongodb://weapp-cs-messaging:$(first_line mongo_cs_password)@mongo:27017/?authSource=$mongo_db"
# The session service stores session_keys encrypted under this key (32 bytes, base64). Rotating it: move the
# old value to SESSION_KEY_ENCRYPTION_KEY_PREVIOUS (services/session/README.md), then write a new one here.
write session_key_encryption_key "$(openssl rand -base64 32)"

missing=0
if [ ! -s "$dir/app_secret" ]; then
  if [ -n "${APP_SECRET:-}" ]; then
    write app_secret "$APP_SECRET"
  else
    echo "make-secrets.sh: $dir/app_secret is missing: write the mini-program's AppSecret into it (or run again with APP_SECRET=...)" >&2
    missing=1
  fi
fi

# The containers' users (node, mongodb, redis) differ from the host's and compose mounts the files as they
# are: the files are readable, the directory (0700) keeps other host users out.
chmod 644 "$dir"/*
exit "$missing"
