# One image recipe for every Node process of the monorepo; SERVICE picks the workspace directory:
#   docker build --build-arg SERVICE=services/session --build-arg PORT=8081 -t weapp/session .
#   (services/cs-messaging 8082, services/realtime-ws 8083, gateway 8080, packages/wechat-sim 8090)
# docker-compose.yml builds all of them. NODE_IMAGE exists so a machine that cannot pull images can build
# against a stand-in with the same layout (scripts/compose-test.sh); everyone else keeps the default.
# Works with BuildKit and with the legacy builder (no RUN --mount), so Debian's docker.io builds it too.
ARG NODE_IMAGE=node:22-bookworm-slim

# ---- build: compile the workspace once, then cut out one service: its dist/ and production deps ----
FROM ${NODE_IMAGE} AS build
ENV CI=true \
    npm_config_update_notifier=false
WORKDIR /src
# pnpm at the exact version of package.json's "packageManager" (pnpm 10 would otherwise switch itself to
# that version at first use, which is slower and needs the network again).
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
RUN npm install --global --no-fund --no-audit "pnpm@$(node -p "require('./package.json').packageManager.split('@')[1]")" \
 && pnpm --version
# `pnpm fetch` needs only the lockfile: every package (TypeScript included, to compile) lands in the store
# in a layer that stays cached until pnpm-lock.yaml changes, whatever source file changed.
RUN pnpm fetch
COPY . .
# Every package and service compiled to its dist/ (tsconfig.build.json); the images run only that.
RUN pnpm install --offline --frozen-lockfile \
 && pnpm run build
# SERVICE is declared only here so every layer above is shared by all the images.
ARG SERVICE
# `pnpm deploy` copies the package and installs its production dependencies, at the versions of
# pnpm-lock.yaml, into /out, a self-contained directory (workspace packages copied in, not linked). pnpm 10
# deploys from the shared lockfile only with inject-workspace-packages=true, and otherwise (or with
# --legacy) resolves every range afresh: images could get versions nobody tested. The setting is given
# here on the command line only: in the repository it would make every local `pnpm install` copy the
# workspace packages instead of linking them (edits in packages/common would not reach the services
# until a reinstall); given here, the committed lockfile stays as it is. --offline: `pnpm fetch` stored it all.
RUN test -n "$SERVICE" && test -f "$SERVICE/package.json" \
    || { echo "build with --build-arg SERVICE=<workspace directory, e.g. services/session>" >&2; exit 1; }; \
    pnpm --config.inject-workspace-packages=true --filter "./${SERVICE}" deploy --prod --offline /out \
 && rm -rf /out/.env /out/.env.example /out/pnpm-lock.yaml \
 && test -f /out/dist/server.js

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
# Owned by root, so the process cannot rewrite its own code. Only dist/ and production dependencies:
# package.json "files" keeps src/ and test/ out of the deployed directory.
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
# Compiled JavaScript, stack traces mapped back to the TypeScript sources.
ENTRYPOINT ["node", "--enable-source-maps", "dist/server.js"]
