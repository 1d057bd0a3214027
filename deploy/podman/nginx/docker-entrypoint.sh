#!/bin/sh
# The nginx stand-in's entrypoint, written from the official image's documented behaviour: when
# the command is nginx, go through /docker-entrypoint.d/ in name order, sourcing the executable
# *.envsh files (they may export variables for later steps) and running the executable *.sh ones;
# then exec the command.
set -eu

if [ "${1:-}" = nginx ] || [ "${1:-}" = nginx-debug ]; then
  for step in $(find /docker-entrypoint.d/ -follow -type f -print | sort -V); do
    [ -x "$step" ] || continue
    case $step in
      *.envsh) echo "$0: sourcing $step"; . "$step" ;;
      *.sh) echo "$0: running $step"; "$step" ;;
    esac
  done
fi
exec "$@"
