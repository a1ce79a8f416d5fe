# Stand-in for redis:7-bookworm on machines that cannot pull images (scripts/compose-test.sh), built from
# Debian's redis-server (7.0). Behaves like the official image where compose relies on it: redis-server
# and redis-cli on PATH, data in /data (a volume), `redis-server ...` runs as the user redis with
# protected mode off, any other command runs as given.
ARG BASE=weapp-standin/debian:bookworm
FROM ${BASE}
RUN set -eux; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server; \
    rm -rf /var/lib/apt/lists/*; \
    mkdir -p /data; chown redis:redis /data; \
    redis-server --version
COPY redis-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /data
WORKDIR /data
EXPOSE 6379
ENTRYPOINT ["/bin/sh", "/usr/local/bin/docker-entrypoint.sh"]
CMD ["redis-server"]
