#!/usr/bin/env bash
# Builds the stand-ins for the official base images, python:3.11-slim and nginx:1.28, from Debian
# bookworm packages, for hosts that cannot pull from Docker Hub (this project's CI). Each image is
# labelled with the hash of its recipe (its folder here, and the Debian image it starts from) and
# rebuilt only when that changes. Needs root, podman and debootstrap; uses the Debian mirror apt is
# configured with (MIRROR overrides it). Run with CONTAINERS_CONF=deploy/podman/containers.conf.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
DEBOOTSTRAP_ARGS=(--variant=minbase bookworm)

configured_mirror() { # the first Debian archive in apt's sources (one-line or deb822 format)
  grep -rhsE '^(deb|URIs:)[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/ \
    | grep -oE 'https?://[^[:space:]]+/debian/?([[:space:]]|$)' | head -1 | tr -d '[:space:]' || true
}
MIRROR=${MIRROR:-$(configured_mirror)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

label() { podman image inspect --format '{{index .Labels "ghostwriter.recipe"}}' "$1" 2>/dev/null; }

# debootstrap mounts /proc and /sys inside its tree while it works, and leaves them mounted if it
# fails: unmount what is mounted (only that: under `set -e` a failed umount would be this
# script's exit status), and never delete through a mount.
remove_tree() {
  local mount
  for mount in "$1/proc" "$1/sys"; do
    if mountpoint -q "$mount"; then umount -R "$mount"; fi
  done
  rm -rf --one-file-system "$1"
}

debian=localhost/ghostwriter-standin/debian:bookworm
debian_recipe=$(echo "${DEBOOTSTRAP_ARGS[*]}" | sha256sum | cut -c1-16)
if [ "$(label "$debian")" != "$debian_recipe" ]; then
  echo "== stand-in base: debootstrap ${DEBOOTSTRAP_ARGS[*]} from $MIRROR"
  root=$(mktemp -d)
  trap 'remove_tree "$root"' EXIT
  debootstrap "${DEBOOTSTRAP_ARGS[@]}" "$root" "$MIRROR" >/dev/null
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" --one-file-system -c . | podman import --quiet \
    --change "LABEL ghostwriter.recipe=$debian_recipe" --change 'CMD ["bash"]' - "$debian"
  remove_tree "$root"
  trap - EXIT
fi

# The host's own certificate authorities (such as a TLS-intercepting proxy's) are trusted inside
# the stand-ins too, so that builds reach PyPI from wherever this host does.
LOCAL_CA_DIR=${LOCAL_CA_DIR:-/usr/local/share/ca-certificates}
debian_id=$(podman image inspect --format '{{.Id}}' "$debian")
for image in python:3.11-slim nginx:1.28; do
  context=$(mktemp -d)
  cp -r "$here/${image%%:*}/." "$context"
  mkdir "$context/local-ca"
  find "$LOCAL_CA_DIR" -maxdepth 1 -name '*.crt' -exec cp {} "$context/local-ca/" \; 2>/dev/null || true
  recipe=$( (echo "$debian_id"; find "$context" -type f -print0 | sort -z | xargs -0 cat) \
    | sha256sum | cut -c1-16)
  if [ "$(label "docker.io/library/$image")" != "$recipe" ]; then
    echo "== stand-in base: $image"
    podman build --quiet --network host --label "ghostwriter.recipe=$recipe" \
      -f "$context/Containerfile" -t "docker.io/library/$image" "$context"
  fi
  rm -rf "$context"
done
podman images --format "{{.Repository}}:{{.Tag}} {{.Size}}" | grep -E "standin/debian|library/(python|nginx):"
