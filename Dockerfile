# One image recipe for every Node process of the monorepo; SERVICE picks the workspace directory:
#   docker build --build-arg SERVICE=services/session --build-arg PORT=8081 -t weapp/session .
#   (services/cs-messaging 8082, services/realtime-ws 8083, gateway 8080, packages/wechat-sim 8090)
# docker-compose.yml builds all of them. NODE_IMAGE exists so a machine that cannot pull images can build
# against a stand-in with the same layout (scripts/compose-test.sh); everyone else keeps the default.
# Works with BuildKit and with the legacy builder (no RUN --mount), so Debian's docker.io builds it too.
ARG NODE_IMAGE=node:22-bookworm-slim

# ---- build: bundle the workspace once, then cut out one process: its bundle and external deps ----
FROM ${NODE_IMAGE} AS build
ENV CI=true \
    npm_config_update_notifier=false
WORKDIR /src
# pnpm at the exact version of package.json's "packageManager" (pnpm 10 would otherwise switch itself to
# that version at first use, which is slower and needs the network again).
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
RUN npm install --global --no-fund --no-audit "pnpm@$(node -p "require('./package.json').packageManager.split('@')[1]")" \
 && pnpm --version
# `pnpm fetch` needs only the lockfile: every package (esbuild and tsx included, to build) lands in the
# store in a layer that stays cached until pnpm-lock.yaml changes, whatever source file changed.
RUN pnpm fetch
COPY . .
# Each process bundled by esbuild into its dist/server.js (scripts/build.ts); the images run only that.
RUN pnpm install --offline --frozen-lockfile \
 && pnpm run build
# SERVICE is declared only here so every layer above is shared by all the images.
ARG SERVICE
# /out: the bundle with its source maps, a package.json saying "type": "module", and node_modules with
# only the packages the bundle leaves external (the MongoDB driver and its dependencies, for the services
# that import it), copied at the versions pnpm-lock.yaml installed (scripts/deploy-bundle.ts). The gateway's
# image also carries the agent console's build at /app/packages/console/dist, where the gateway looks for it
# by default (CONSOLE_DIR: the nearest packages/console/dist above its code).
RUN test -n "$SERVICE" && test -f "$SERVICE/package.json" \
    || { echo "build with --build-arg SERVICE=<workspace directory, e.g. services/session>" >&2; exit 1; }; \
    pnpm exec tsx scripts/deploy-bundle.ts "$SERVICE" /out \
 && test -f /out/dist/server.js \
 && if [ "$SERVICE" = gateway ]; then \
      test -f packages/console/dist/index.html \
        || { echo "the agent console was not built (packages/console/dist/index.html): pnpm run build must build it" >&2; exit 1; }; \
      mkdir -p /out/packages/console && cp -R packages/console/dist /out/packages/console/dist; \
    fi

# ---- runtime: the deployed directory, read-only for an unprivileged user ----
FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
# Each service has its own default port; the image carries it so the health check knows where to ask.
ARG PORT=8080
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=${PORT}
LABEL org.opencontainers.image.title="weapp ${SERVICE}"
WORKDIR /app
# Owned by root, so the process cannot rewrite its own code. Only the bundle (dist/) and the external
# packages it imports: no src/, no test/, no build tools.
COPY --from=build /out /app
# The official node images have the user `node` (uid 1000); numeric so Kubernetes' runAsNonRoot can check it.
USER 1000:1000
EXPOSE ${PORT}
# No curl in slim images: node asks /healthz (every service answers it without credentials).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/healthz', { signal: AbortSignal.timeout(2500) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node is PID 1 (exec form, no shell, no npm/pnpm wrapper), so `docker stop`'s SIGTERM reaches it: each
# service closes gracefully (close-with-grace: in-flight requests finish, SHUTDOWN_TIMEOUT_MS budget) and
# exits 0. Nothing here forks, so PID 1's other job (reaping zombies) is not needed.
STOPSIGNAL SIGTERM
# The bundle, with the production flags of scripts/build.ts (PRODUCTION_NODE_FLAGS; test/build.test.ts
# holds the two equal): stack traces mapped back to the TypeScript sources, a 2 MB young generation.
ENTRYPOINT ["node", "--enable-source-maps", "--max-semi-space-size=2", "dist/server.js"]
