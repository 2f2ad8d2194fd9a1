#!/usr/bin/env bash
# Run a command in a throwaway podman container whose PID 1 is systemd: an ordinary systemd host (journald,
# logind, the system bus, `loginctl enable-linger` starts a real user@UID.service) with no network.
# CI uses it to run the README's commands on such a host (root only).
#
#   systemd-container.sh image                      build the image if it is missing, print its name
#   systemd-container.sh run [--keep] -- CMD [ARGS...]
#                                                   boot a fresh container, copy the checkout to /app, run
#                                                   CMD there as root, exit with CMD's exit code
#
# The image, localhost/agent-profiles-systemd:KEY, is Debian 12 (debootstrap minbase from apt's own mirror)
# plus this host's node and npm; KEY hashes the recipe below and their versions, so nothing is pulled from
# a container registry and a new node makes a new image (older ones are removed). Building it takes two to
# three minutes on 2 cores (the .debs are kept in /var/cache/agent-profiles/systemd-container for the next
# build) and installs podman, runc and debootstrap first where missing.
# `run` copies the files git tracks plus untracked, non-ignored ones (so no node_modules or dist), and runs
# CMD in /app with a login shell's environment, CI=true and npm offline on an overlay of this host's npm
# cache (writes are thrown away): `npm ci` works when the host's cache holds the lockfile's packages, as
# it does after an `npm ci` here. The container is stopped and removed at the end, on Ctrl-C too, unless
# --keep (its name is printed; remove it with `podman rm -f NAME`).
# Podman runs with a private containers.conf (runc, no network, ulimits this root may set), leaving
# /etc/containers alone. AP_BOOT_TIMEOUT_S (default 60) bounds the boot.
set -euo pipefail

readonly IMAGE_REPO=localhost/agent-profiles-systemd
readonly BOOT_TIMEOUT_S=${AP_BOOT_TIMEOUT_S:-60}
readonly HOST_PACKAGES=(podman runc debootstrap)
readonly CACHE_DIR=/var/cache/agent-profiles/systemd-container
SELF=$(readlink -f "${BASH_SOURCE[0]}")
readonly SELF
REPO=$(cd "$(dirname "$SELF")/.." && pwd)
readonly REPO
readonly STARTED=$EPOCHREALTIME

die() {
  printf 'systemd-container.sh: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '6,9s/^#   //p' "$SELF" >&2
  exit 2
}

# Progress on stderr, with the seconds since the script started.
log() {
  printf 'systemd-container.sh [%5s s] %s\n' "$(seconds_since "$STARTED")" "$*" >&2
}

# Seconds (one decimal) since $1, an EPOCHREALTIME value (its decimal point depends on the locale).
seconds_since() {
  local now=$EPOCHREALTIME
  local d=$((10#${now//[!0-9]/} - 10#${1//[!0-9]/}))
  printf '%d.%d' $((d / 1000000)) $((d % 1000000 / 100000))
}

# --- the host ---------------------------------------------------------------------------------------

ensure_host_packages() {
  local missing=() pkg
  for pkg in "${HOST_PACKAGES[@]}"; do
    if [[ $(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null) != installed ]]; then
      missing+=("$pkg")
    fi
  done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]}"
  apt-get update -q >&2 || die "apt-get update failed; cannot install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null >&2 \
    || die "could not install ${missing[*]}"
}

# A private containers.conf: runc (crun refuses hybrid cgroups), no network namespace but `none` (a
# default_network of "none" would still make a bridge), ulimits this root can set (it cannot raise them).
write_containers_conf() {
  CONF_DIR=$(mktemp -d /tmp/agent-profiles-podman.XXXXXX)
  cat >"$CONF_DIR/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"

[engine]
runtime = "runc"
EOF
  export CONTAINERS_CONF=$CONF_DIR/containers.conf
}

# The Debian mirror apt uses here (one-line sources.list or deb822 .sources).
apt_mirror() {
  local file uri
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $file ]] || continue
    uri=$(awk '$1 == "deb" && $0 ~ / bookworm( |$)/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$file")
    [[ -n $uri ]] && { echo "$uri"; return; }
  done
  for file in /etc/apt/sources.list.d/*.sources; do
    [[ -f $file ]] || continue
    # deb822: stanzas separated by blank lines; the one whose Suites has plain "bookworm".
    uri=$(awk 'BEGIN { RS = "" } /(^|\n)Suites:[^\n]*[ \t]bookworm([ \t]|\n|$)/ && /(^|\n)Types:[^\n]*deb([ \t]|\n|$)/ {
                 if (match($0, /(^|\n)URIs:[ \t]*[^ \t\n]+/)) { s = substr($0, RSTART, RLENGTH); sub(/^\n?URIs:[ \t]*/, "", s); print s; exit } }' "$file")
    [[ -n $uri ]] && { echo "$uri"; return; }
  done
  die "no Debian bookworm mirror in /etc/apt/sources.list or /etc/apt/sources.list.d/; debootstrap needs one"
}

# --- the image ----------------------------------------------------------------------------------------
# Everything from here to "end of the image recipe" goes into the image's KEY.

readonly IMAGE_PACKAGES=systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,passwd,util-linux,procps,curl,iproute2,ca-certificates,tmux,openssh-server,openssh-client

# Debian 12 minbase with systemd, logind and the user-session bus, in $1.
make_rootfs() {
  local rootfs=$1 mirror
  mirror=$(apt_mirror)
  mkdir -p "$CACHE_DIR/debs"
  log "debootstrap bookworm from $mirror"
  debootstrap --variant=minbase --include="$IMAGE_PACKAGES" --cache-dir="$CACHE_DIR/debs" \
    bookworm "$rootfs" "$mirror" >"$CONF_DIR/debootstrap.log" 2>&1 \
    || { tail -n 30 "$CONF_DIR/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
}

# This host's node and npm, and what makes the rootfs a quiet, journaled systemd host.
customize_rootfs() {
  local rootfs=$1 node npm_dir promtool
  node=$(readlink -f "$(command -v node)") || die "no node on this host"
  npm_dir=$(readlink -f "$(command -v npm)") || die "no npm on this host"
  npm_dir=${npm_dir%/bin/npm-cli.js}
  [[ -f $npm_dir/package.json ]] || die "cannot find npm's directory from $(command -v npm)"
  install -m 0755 "$node" "$rootfs/usr/bin/node"
  # The sweep test checks its metrics with promtool (scripts/ensure-packages.sh puts it on this host).
  promtool=$(command -v promtool) || die "no promtool on this host: run scripts/ensure-packages.sh"
  install -m 0755 "$promtool" "$rootfs/usr/local/bin/promtool"
  mkdir -p "$rootfs/usr/lib/node_modules"
  cp -a "$npm_dir" "$rootfs/usr/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/bin/npx"
  # Debian 12's systemd keeps the journal in /run unless /var/log/journal exists; with it, journald
  # writes per-user journals, which `journalctl --user` needs as a user who is not in systemd-journal.
  chroot "$rootfs" install -d -m 2755 -g systemd-journal /var/log/journal
  # Each container makes its own machine ID at boot.
  : >"$rootfs/etc/machine-id"
  rm -f "$rootfs/var/lib/dbus/machine-id"
  # Nothing that wants the network or a console.
  chroot "$rootfs" systemctl mask --quiet apt-daily.timer apt-daily-upgrade.timer
  # openssh-server is there for the fleet tests, whose sshds scripts/ssh-hosts.sh starts on addresses
  # and ports of their own; the package's own sshd on *:22 must not start at boot. disable also drops
  # the sshd.service alias; the mask keeps anything from starting it.
  chroot "$rootfs" systemctl disable --quiet ssh.service ssh.socket
  chroot "$rootfs" systemctl mask --quiet ssh.service ssh.socket
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
  chroot "$rootfs" /usr/bin/node --version >/dev/null || die "the copied node does not run in the image"
}

import_rootfs() {
  local rootfs=$1 image=$2
  log "importing $image"
  tar -C "$rootfs" --numeric-owner -c . \
    | podman import -q --change 'CMD ["/lib/systemd/systemd"]' --change 'ENV container=podman' \
      --change 'STOPSIGNAL SIGRTMIN+3' - "$image" >/dev/null \
    || die "podman import of $image failed"
}

# end of the image recipe

image_key() {
  {
    declare -p IMAGE_PACKAGES
    declare -f make_rootfs customize_rootfs import_rootfs
    node --version
    npm --version
  } | sha256sum | cut -c1-12
}

# Unmount whatever debootstrap left mounted under $1, then remove it (never crossing into a mount).
remove_rootfs() {
  local rootfs=$1 mnt
  [[ -d $rootfs ]] || return 0
  while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done \
    < <(findmnt -rn -o TARGET | grep -F "$rootfs/" | sort -r)
  rm -rf --one-file-system "$rootfs"
}

# Sets IMAGE to the image's name, building it first when missing.
ensure_image() {
  local key image rootfs t0
  ensure_host_packages
  command -v node >/dev/null || die "no node on this host: the image carries this host's node and npm"
  key=$(image_key)
  image=$IMAGE_REPO:$key
  mkdir -p "$CACHE_DIR"
  exec 8>"$CACHE_DIR/build.lock"
  if ! flock -n 8; then
    log "waiting for another build of the image"
    flock 8
  fi
  if podman image exists "$image"; then
    log "image $image present"
  else
    t0=$EPOCHREALTIME
    log "building $image (node $(node --version), npm $(npm --version))"
    rootfs=$(mktemp -d /var/tmp/agent-profiles-rootfs.XXXXXX)
    ROOTFS_TO_REMOVE=$rootfs
    make_rootfs "$rootfs"
    customize_rootfs "$rootfs"
    import_rootfs "$rootfs" "$image"
    remove_rootfs "$rootfs"
    ROOTFS_TO_REMOVE=
    log "built $image in $(seconds_since "$t0") s"
    local old
    while read -r old; do
      [[ $old == "$image" ]] && continue
      if podman rmi "$old" >/dev/null 2>&1; then log "removed the older image $old"; fi
    done < <(podman images --format '{{.Repository}}:{{.Tag}}' | grep "^$IMAGE_REPO:" || true)
  fi
  exec 8>&-
  IMAGE=$image
}

# --- the container ----------------------------------------------------------------------------------

container_is_running() {
  [[ $(podman inspect -f '{{.State.Running}}' "$1" 2>/dev/null) == true ]]
}

# Waits until systemd in $1 says running or degraded; on anything else, or past the deadline, prints
# its journal and exits 1.
wait_booted() {
  local ctr=$1 deadline state=
  deadline=$(($(date +%s) + BOOT_TIMEOUT_S))
  while (($(date +%s) < deadline)); do
    container_is_running "$ctr" || break
    state=$(podman exec "$ctr" systemctl is-system-running 2>/dev/null) || true
    case $state in
      running) return 0 ;;
      degraded)
        log "systemd is degraded: $(podman exec "$ctr" systemctl --failed --no-legend --plain 2>/dev/null | awk '{print $1}' | paste -sd' ')"
        return 0 ;;
      maintenance | stopping) break ;;
    esac
    # Let systemd tell when its boot is done, bounded by the deadline; before its bus is up this
    # returns at once and the loop polls again.
    timeout $((deadline - $(date +%s) + 1)) podman exec "$ctr" systemctl is-system-running --wait >/dev/null 2>&1 || true
  done
  echo "systemd-container.sh: systemd in $ctr did not boot within ${BOOT_TIMEOUT_S} s (state: ${state:-unknown})" >&2
  if container_is_running "$ctr"; then
    podman exec "$ctr" journalctl -b --no-pager 2>&1 | tail -n 40 >&2 || true
  else
    podman logs "$ctr" 2>&1 | tail -n 40 >&2 || true
  fi
  exit 1
}

# The checkout as git sees it (tracked plus untracked, non-ignored files), as a tar stream on stdout.
checkout_tar() {
  if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    local f
    (cd "$REPO" && git ls-files -co --exclude-standard -z \
      | while IFS= read -r -d '' f; do [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done \
      | tar --null -T - -c)
  else
    tar -C "$REPO" --exclude=./node_modules --exclude=./dist --exclude=./.git -c .
  fi
}

# `npm ci` caches tarballs only; an install that resolves version ranges (the pack test's `npm install -g`
# of the packed tarball) also needs the registry's metadata of every dependency. Resolve the tree once
# here, where the registry answers, so that it is in the cache the container gets.
warm_npm_cache() {
  local dir t0=$EPOCHREALTIME
  dir=$(mktemp -d /tmp/agent-profiles-warm.XXXXXX)
  node -e 'const p = require(process.argv[1]);
    require("fs").writeFileSync(process.argv[2], JSON.stringify({ name: "warm", version: "0.0.0", private: true, dependencies: p.dependencies }));' \
    "$REPO/package.json" "$dir/package.json"
  if (cd "$dir" && npm install --package-lock-only --prefer-offline --ignore-scripts --no-audit --no-fund >/dev/null 2>&1); then
    log "npm cache holds the metadata of the dependencies ($(seconds_since "$t0") s)"
  else
    log "could not resolve the dependencies here (no registry?): an npm install inside that needs their metadata will fail"
  fi
  rm -rf "$dir"
}

cmd_run() {
  local keep=0
  while (($#)); do
    case $1 in
      --keep) keep=1; shift ;;
      --) shift; break ;;
      *) usage ;;
    esac
  done
  (($#)) || usage

  local npm_cache t0
  ensure_image
  CTR=agent-profiles-ci-$$-$RANDOM
  KEEP=$keep
  local mounts=()
  warm_npm_cache
  npm_cache=$(npm config get cache 2>/dev/null || true)
  if [[ -d $npm_cache ]]; then
    # An overlay: npm may write to its cache, the host's copy stays as it is.
    mounts=(--volume "$npm_cache:/var/cache/npm:O")
  else
    log "no npm cache on this host ($npm_cache): npm inside has nothing to install from"
  fi

  t0=$EPOCHREALTIME
  podman run -d --name "$CTR" --hostname "$CTR" --systemd=always --privileged --cgroupns=private \
    --network=none "${mounts[@]}" "$IMAGE" >/dev/null || die "podman run $IMAGE failed"
  wait_booted "$CTR"
  log "container $CTR booted in $(seconds_since "$t0") s"

  podman exec "$CTR" mkdir -p /app
  checkout_tar | podman exec -i "$CTR" tar -C /app -x || die "copying the checkout into $CTR failed"
  log "copied $REPO to $CTR:/app; running: $*"

  # CMD gets this script's standard input, when it has one.
  local rc=0 stdin=()
  [[ -e /dev/fd/0 ]] && stdin=(-i)
  podman exec "${stdin[@]}" -w /app --env CI=true --env npm_config_cache=/var/cache/npm \
    --env npm_config_offline=true "$CTR" bash -lc 'cd /app && exec "$@"' bash "$@" || rc=$?
  log "command exited $rc"
  return "$rc"
}

cleanup() {
  local rc=$?
  if [[ -n ${CTR:-} ]]; then
    if ((KEEP)); then
      log "kept container $CTR (podman exec -it $CTR bash; podman rm -f $CTR)"
    else
      podman rm -f -t 10 "$CTR" >/dev/null 2>&1 || echo "systemd-container.sh: could not remove $CTR" >&2
    fi
  fi
  [[ -n ${ROOTFS_TO_REMOVE:-} ]] && remove_rootfs "$ROOTFS_TO_REMOVE"
  [[ -n ${CONF_DIR:-} ]] && rm -rf "$CONF_DIR"
  return "$rc"
}

[[ $(id -u) -eq 0 ]] || die "must run as root: it installs packages and runs rootful podman (try: sudo bash $SELF $*)"
(($#)) || usage
CTR='' KEEP=0 ROOTFS_TO_REMOVE='' CONF_DIR='' IMAGE=''
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
write_containers_conf

case $1 in
  image) shift; (($# == 0)) || usage; ensure_image; echo "$IMAGE" ;;
  run) shift; cmd_run "$@" ;;
  *) usage ;;
esac
