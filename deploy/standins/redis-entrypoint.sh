#!/bin/sh
# What the official redis image's entrypoint does, in short: `redis-server ...` runs as redis (owning
# /data) with protected mode off (the network is the container's); anything else runs unchanged.
set -e
if [ "${1#-}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = redis-server ]; then
  shift
  # A configuration file, when given, must stay the first argument (redis-server <file> [--options]).
  case ${1:-} in
    -*|'') set -- redis-server --protected-mode no "$@" ;;
    *) conf=$1; shift; set -- redis-server "$conf" --protected-mode no "$@" ;;
  esac
  if [ "$(id -u)" = 0 ]; then
    find /data \! -user redis -exec chown redis:redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
  fi
fi
exec "$@"
