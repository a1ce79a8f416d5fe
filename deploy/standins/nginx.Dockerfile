# Stand-in for nginx:1.27-bookworm on machines that cannot pull images (scripts/compose-test.sh), built
# from Debian's nginx (1.22). Like the official image: nginx and curl on PATH, the user nginx, logs to the
# container's stdout/stderr, SIGQUIT (graceful) as the stop signal. The compose file mounts the TLS
# certificate; nothing relies on tools beyond sh, sed and curl in the container.
ARG BASE=weapp-standin/debian:bookworm
FROM ${BASE}
RUN set -eux; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx curl ca-certificates; \
    rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/*; \
    useradd --system --no-create-home --home /nonexistent --shell /usr/sbin/nologin nginx; \
    ln -sf /dev/stdout /var/log/nginx/access.log; \
    ln -sf /dev/stderr /var/log/nginx/error.log; \
    nginx -v
EXPOSE 80 443
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
