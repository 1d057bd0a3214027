#!/usr/bin/env bash
# Builds the stand-ins for the official base images, python:3.11-slim and nginx:1.28, from Debian
# bookworm packages, for hosts that cannot pull from Docker Hub (this project's CI). Each image
# carries the hash of this folder's recipe and is rebuilt only when the recipe changes.
# Needs root, podman and debootstrap; uses the Debian mirror apt is configured with
# (MIRROR overrides it). Run with CONTAINERS_CONF=deploy/podman/containers.conf.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
configured_mirror() { # the first Debian archive in apt's sources (one-line or deb822 format)
  grep -rhsE '^(deb|URIs:)[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/ \
    | grep -oE 'https?://[^[:space:]]+/debian/?([[:space:]]|$)' | head -1 | tr -d '[:space:]' || true
}
MIRROR=${MIRROR:-$(configured_mirror)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
recipe=$(cat "$here"/bases.sh "$here"/*.Containerfile "$here"/default.conf "$here"/nginx-entrypoint.sh \
  | sha256sum | cut -c1-16)

current() { # IMAGE: true when IMAGE exists and was built from this recipe
  [ "$(podman image inspect --format '{{index .Labels "ghostwriter.recipe"}}' "$1" 2>/dev/null)" = "$recipe" ]
}

debian=localhost/ghostwriter-standin/debian:bookworm
if ! current "$debian"; then
  echo "== stand-in base: debootstrap bookworm (minbase) from $MIRROR"
  root=$(mktemp -d)
  # debootstrap mounts /proc and /sys inside the tree while it works; never delete through them.
  trap 'umount -R "$root/proc" "$root/sys" 2>/dev/null; rm -rf --one-file-system "$root"' EXIT
  debootstrap --variant=minbase bookworm "$root" "$MIRROR" >/dev/null
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" --one-file-system -c . | podman import --change "LABEL ghostwriter.recipe=$recipe" \
    --change 'CMD ["bash"]' - "$debian" >/dev/null
fi

for image in python:3.11-slim nginx:1.28; do
  current "docker.io/library/$image" && continue
  echo "== stand-in base: $image"
  podman build --quiet --network host --label "ghostwriter.recipe=$recipe" \
    -f "$here/${image%%:*}.Containerfile" -t "docker.io/library/$image" "$here" >/dev/null
done
podman images --filter label=ghostwriter.recipe="$recipe" --format '{{.Repository}}:{{.Tag}} {{.Size}}'
