#!/usr/bin/env bash
# Several ssh "hosts" on one machine, for fleet tests: one sshd per host on its own loopback address,
# each letting in only one sandbox user (scripts/user-manager.sh), whose private user manager is that
# host's. ../shared/SSH-HOSTS.md's recipe.
#
#   ssh-hosts.sh start NAME --addr 127.0.0.N --user SANDBOX_USER [--port P] [--profiles CMD]
#   ssh-hosts.sh authorize NAME --client-user DRIVER_USER --dir DIR [--alias ALIAS]
#   ssh-hosts.sh stop NAME
#   ssh-hosts.sh list
#
# start: an sshd on ADDR:PORT (2222 unless --port: an ssh.service may hold *:22) with its own ed25519
#   host key, files in /run/agent-profiles-ssh/NAME/. Sessions get the sandbox's XDG_RUNTIME_DIR and
#   DBUS_SESSION_BUS_ADDRESS (these hosts have no logind to set them) and a PATH whose first directory
#   holds `profiles`, which runs CMD "$@" (default: node $AP_APP_DIR/dist/src/cli.cjs). Where the sandbox
#   has a private journald (namespace mode), sshd runs in its mount namespace, so sessions see what
#   `user-manager.sh exec` sees. Prints AP_SSH_NAME, _ADDR, _PORT, _USER, _PID and _HOST_KEY lines.
# authorize: a client key for DRIVER_USER in DIR (made once), its public key in SANDBOX_USER's
#   ~/.ssh/authorized_keys, and a `Host NAME` (or ALIAS) block in DIR/config with DIR/known_hosts pinning
#   the host key; `ssh -F DIR/config NAME CMD` then works as DRIVER_USER. DIR is the driver's alone (0700).
# stop: stops that sshd and its sessions, removes its files; exits 1 naming what is left if it cannot.

# The single-quoted scripts run as another user (sh -c '...' _ ARGS) expand their own arguments.
# shellcheck disable=SC2016
set -euo pipefail

readonly STATE_DIR=/run/agent-profiles-ssh
readonly SSHD_BIN=/usr/sbin/sshd
readonly JOURNALD_BIN=/lib/systemd/systemd-journald
readonly DEFAULT_PORT=2222
readonly START_TIMEOUT_S=${AP_START_TIMEOUT_S:-15}
readonly STOP_TIMEOUT_S=${AP_STOP_TIMEOUT_S:-10}
SELF=$(readlink -f "${BASH_SOURCE[0]}")
readonly SELF
USER_MANAGER=$(dirname "$SELF")/user-manager.sh
readonly USER_MANAGER

die() {
  printf 'ssh-hosts.sh: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '6,9s/^#   //p' "$SELF" >&2
  exit 2
}

require_root() {
  [[ $(id -u) -eq 0 ]] || die "must run as root: it starts sshds and writes other users' files (try: sudo bash $SELF $*)"
}

valid_name() {
  [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,30}$ ]] || die "invalid host name '$1' (want [A-Za-z0-9][A-Za-z0-9_-]*, at most 31 chars)"
}

# now_ms, poll, alive, dead.
# shellcheck source=scripts/wait-lib.sh
source "$(dirname "$SELF")/wait-lib.sh"

host_dir() { echo "$STATE_DIR/$1"; }

# The host's state: AP_SSH_NAME, _ADDR, _PORT, _USER, _PID, _HOST_KEY (one KEY=VALUE a line).
load_host() {
  local file key value
  file=$(host_dir "$1")/host.env
  [[ -f $file ]] || return 1
  AP_SSH_NAME='' AP_SSH_ADDR='' AP_SSH_PORT='' AP_SSH_USER='' AP_SSH_PID='' AP_SSH_HOST_KEY=''
  while IFS='=' read -r key value; do
    case $key in
      AP_SSH_NAME | AP_SSH_ADDR | AP_SSH_PORT | AP_SSH_USER | AP_SSH_PID | AP_SSH_HOST_KEY) printf -v "$key" '%s' "$value" ;;
    esac
  done <"$file"
  [[ $AP_SSH_PORT =~ ^[0-9]+$ ]] || die "corrupt state file $file"
}

save_host() {
  local file
  file=$(host_dir "$AP_SSH_NAME")/host.env
  printf '%s\n' "AP_SSH_NAME=$AP_SSH_NAME" "AP_SSH_ADDR=$AP_SSH_ADDR" "AP_SSH_PORT=$AP_SSH_PORT" \
    "AP_SSH_USER=$AP_SSH_USER" "AP_SSH_PID=$AP_SSH_PID" "AP_SSH_HOST_KEY=$AP_SSH_HOST_KEY" >"$file.tmp"
  mv -f "$file.tmp" "$file"
}

# The sandbox's variables (AP_UID, AP_HOME, AP_PATH, XDG_RUNTIME_DIR, ...), as `user-manager.sh status`
# prints them from its state file; fails unless its manager is running.
load_sandbox() {
  local out key value
  out=$(bash "$USER_MANAGER" status "$1" 2>&1) || die "sandbox user $1 has no running manager (user-manager.sh status: $out)"
  AP_UID='' AP_GID='' AP_HOME='' AP_PATH='' XDG_RUNTIME_DIR='' DBUS_SESSION_BUS_ADDRESS='' AP_MODE='' AP_JOURNAL='' AP_JOURNALD_PID=''
  while IFS='=' read -r key value; do
    case $key in
      AP_UID | AP_GID | AP_HOME | AP_PATH | XDG_RUNTIME_DIR | DBUS_SESSION_BUS_ADDRESS | AP_MODE | AP_JOURNAL | AP_JOURNALD_PID) printf -v "$key" '%s' "$value" ;;
    esac
  done <<<"$out"
  [[ $AP_UID =~ ^[0-9]+$ && -n $AP_HOME && -n $XDG_RUNTIME_DIR && -n $DBUS_SESSION_BUS_ADDRESS ]] ||
    die "user-manager.sh status $1 printed no usable state: $out"
}

# Runs "$@" as USER (uid:gid) with a clean environment: files in that user's directories are written by
# the user, so that a link planted there cannot make root write elsewhere.
as() {
  local uid=$1 gid=$2 home=$3
  shift 3
  (cd / && setpriv --reuid="$uid" --regid="$gid" --init-groups env -i HOME="$home" PATH=/usr/bin:/bin "$@")
}

# Whether PID is the sshd listener of host NAME (state loaded): a recycled PID must not be killed.
is_listener() {
  local pid=$1 cmdline
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  [[ $(readlink -f "/proc/$pid/exe") == "$(readlink -f "$SSHD_BIN")" ]] || return 1
  # The listener keeps its command line (-f CONF) in its title; another host's sshd names another CONF.
  # Read whole, not piped to grep -q: under pipefail, tr's SIGPIPE would fail the test now and then.
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *"-f $(host_dir "$AP_SSH_NAME")/sshd_config "* ]]
}

# The listeners of host NAME: the one its state and PidFile name, and any other that runs its config.
listener_pids() {
  local pid
  for pid in "$AP_SSH_PID" "$(cat "$(host_dir "$AP_SSH_NAME")/sshd.pid" 2>/dev/null)" $(pgrep -x sshd); do
    if is_listener "$pid"; then echo "$pid"; fi
  done | sort -u
}

# sshd answers with its banner on ADDR:PORT.
accepts() {
  local line
  line=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2" && IFS= read -r line <&3 && printf %s "$line"' _ "$1" "$2" 2>/dev/null) || return 1
  [[ $line == SSH-2.0-* ]]
}

accepts_or_dead() {
  accepts "$AP_SSH_ADDR" "$AP_SSH_PORT" && return 0
  if dead "$SSHD_LAUNCHED"; then
    SSHD_DIED=1
    return 0
  fi
  return 1
}

cmd_start() {
  local name=${1:-}
  [[ -n $name && $name != -* ]] || usage
  shift
  valid_name "$name"
  local addr='' user='' port=$DEFAULT_PORT profiles_cmd=''
  while (($#)); do
    case $1 in
      --addr) addr=${2:?--addr needs an address}; shift 2 ;;
      --user) user=${2:?--user needs a sandbox user}; shift 2 ;;
      --port) port=${2:?--port needs a number}; shift 2 ;;
      --profiles) profiles_cmd=${2:?--profiles needs a command}; shift 2 ;;
      *) usage ;;
    esac
  done
  [[ $addr =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "--addr '$addr': want a loopback address 127.x.y.z"
  [[ -n $user ]] || die "--user: name the sandbox user (from user-manager.sh start) the host lets in"
  if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then die "--port '$port': want 1-65535"; fi
  if [[ -z $profiles_cmd ]]; then
    [[ -n ${AP_APP_DIR:-} ]] || die "AP_APP_DIR is not set: give --profiles CMD, or stage the app (scripts/stage-app.sh) and export AP_APP_DIR"
    profiles_cmd="node $AP_APP_DIR/dist/src/cli.cjs"
  fi
  [[ $profiles_cmd != *$'\n'* ]] || die "--profiles: one line, please"
  [[ -x $SSHD_BIN ]] || die "no $SSHD_BIN: install openssh-server (scripts/ensure-packages.sh)"
  load_sandbox "$user"

  install -d -m 0755 "$STATE_DIR"
  local other
  for other in "$STATE_DIR"/*/host.env; do
    [[ -e $other ]] || continue
    (
      load_host "$(basename "$(dirname "$other")")"
      [[ $AP_SSH_ADDR:$AP_SSH_PORT != "$addr:$port" ]] || die "$addr:$port is host $AP_SSH_NAME's already"
    )
  done
  DIR=$(host_dir "$name")
  [[ ! -e $DIR ]] || die "host $name exists already ($DIR); stop it first: $SELF stop $name"

  STARTED=0
  SSHD_LAUNCHED=''
  trap 'on_start_exit "$?"' EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT
  install -d -m 0755 "$DIR" "$DIR/bin"
  AP_SSH_NAME=$name AP_SSH_ADDR=$addr AP_SSH_PORT=$port AP_SSH_USER=$user AP_SSH_PID='' AP_SSH_HOST_KEY=''
  save_host

  ssh-keygen -q -t ed25519 -N '' -C "$name@agent-profiles-ssh" -f "$DIR/ssh_host_ed25519_key" </dev/null
  AP_SSH_HOST_KEY=$(<"$DIR/ssh_host_ed25519_key.pub")
  printf '#!/bin/sh\nexec %s "$@"\n' "$profiles_cmd" >"$DIR/bin/profiles"
  chmod 0755 "$DIR/bin/profiles"
  # No include of /etc/ssh/sshd_config.d: nothing of the machine's own sshd settings applies.
  cat >"$DIR/sshd_config" <<EOF
ListenAddress $addr:$port
HostKey $DIR/ssh_host_ed25519_key
PidFile $DIR/sshd.pid
# useradd leaves the password locked; without PAM sshd refuses locked accounts.
UsePAM yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
AllowUsers $user
PermitRootLogin no
PrintMotd no
PrintLastLog no
X11Forwarding no
UseDNS no
LogLevel VERBOSE
# Measured here: \`ssh host true\` 270 ms with it, 413 ms with the default sntrup761x25519 (load 2.5, 2 cores).
KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org
# What pam_systemd sets on a real host; these hosts have no logind.
SetEnv XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR DBUS_SESSION_BUS_ADDRESS=$DBUS_SESSION_BUS_ADDRESS PATH=$DIR/bin:$AP_PATH
EOF
  # Its privilege separation directory; the package's ssh.service would make it.
  install -d -m 0755 /run/sshd

  local enter=()
  if [[ $AP_MODE == namespace && $AP_JOURNAL == yes && -n $AP_JOURNALD_PID ]] && alive "$AP_JOURNALD_PID" &&
    [[ $(readlink -f "/proc/$AP_JOURNALD_PID/exe") == "$(readlink -f "$JOURNALD_BIN")" ]]; then
    enter=(nsenter -t "$AP_JOURNALD_PID" -m)
  fi
  # -D: sshd stays the process started here (setsid and nsenter exec), so that a bind failing after it read
  # its configuration ends the wait at once, as its exit. What it says before -E takes effect goes to the
  # same log.
  # shellcheck disable=SC2094
  setsid "${enter[@]}" "$SSHD_BIN" -D -f "$DIR/sshd_config" -E "$DIR/sshd.log" </dev/null >>"$DIR/sshd.log" 2>&1 &
  SSHD_LAUNCHED=$!
  SSHD_DIED=0
  if ! poll "$START_TIMEOUT_S" accepts_or_dead || ((SSHD_DIED)); then
    sed 's/^/  | /' "$DIR/sshd.log" >&2
    local why="does not accept connections on $addr:$port within ${START_TIMEOUT_S}s"
    ((SSHD_DIED)) && why="exited during startup"
    die "sshd for $name $why (its log above)"
  fi
  AP_SSH_PID=$SSHD_LAUNCHED
  if [[ $(cat "$DIR/sshd.pid" 2>/dev/null) != "$AP_SSH_PID" ]] || ! is_listener "$AP_SSH_PID"; then
    die "pid $AP_SSH_PID is not the sshd of $DIR/sshd_config"
  fi
  save_host
  STARTED=1
  cat "$DIR/host.env"
}

# A start that fails or is interrupted leaves nothing behind.
on_start_exit() {
  local rc=$1
  trap - EXIT TERM INT
  # Before it wrote its PidFile, stop would not find it.
  if ((!STARTED)) && [[ -n ${SSHD_LAUNCHED-} ]] && alive "$SSHD_LAUNCHED"; then
    kill -KILL "$SSHD_LAUNCHED" 2>/dev/null || true
    wait "$SSHD_LAUNCHED" 2>/dev/null || true
  fi
  if ((!STARTED)) && [[ -n ${DIR-} && -e $DIR/host.env ]]; then
    (cmd_stop "$AP_SSH_NAME") >&2 || true
  fi
  exit "$rc"
}

# Replaces the lines of FILE (read as the driver) from `Host NAME` to the next `Host` with BLOCK.
with_host_block() {
  local file=$1 name=$2 block=$3
  { [[ ! -f $file ]] || awk -v name="$name" '
      tolower($1) == "host" { skip = ($2 == name && NF == 2) }
      !skip' "$file"
    printf '%s\n' "$block"; }
}

cmd_authorize() {
  local name=${1:-}
  [[ -n $name && $name != -* ]] || usage
  shift
  valid_name "$name"
  local driver='' dir='' alias=$name
  while (($#)); do
    case $1 in
      --client-user) driver=${2:?--client-user needs a user}; shift 2 ;;
      --alias) alias=${2:?--alias needs a name}; shift 2 ;;
      --dir) dir=${2:?--dir needs a directory}; shift 2 ;;
      *) usage ;;
    esac
  done
  [[ -n $driver && -n $dir ]] || usage
  valid_name "$alias"
  [[ $dir == /* && $dir != *[[:space:]]* ]] || die "--dir '$dir': want an absolute path without spaces"
  load_host "$name" || die "no host named $name (see: $SELF list)"
  local d_uid d_gid d_home
  d_uid=$(id -u "$driver" 2>/dev/null) || die "no user $driver"
  d_gid=$(id -g "$driver")
  d_home=$(getent passwd "$driver" | cut -d: -f6)
  load_sandbox "$AP_SSH_USER"

  exec {LOCK_FD}>>"$STATE_DIR/.authorize.lock"
  flock -w 60 "$LOCK_FD" || die "timed out waiting for $STATE_DIR/.authorize.lock"

  # The driver's directory and key, made by the driver.
  as "$d_uid" "$d_gid" "$d_home" mkdir -p "$dir" || die "$driver cannot make $dir"
  [[ $(stat -c %u "$dir") == "$d_uid" ]] || die "$dir is not $driver's"
  chmod 0700 "$dir"
  if [[ ! -f $dir/id_ed25519 ]]; then
    as "$d_uid" "$d_gid" "$d_home" ssh-keygen -q -t ed25519 -N '' -C "$driver@agent-profiles-ssh" -f "$dir/id_ed25519" </dev/null
  fi
  local pub
  pub=$(<"$dir/id_ed25519.pub")

  # The host's side, written by the sandbox user; sshd's StrictModes wants ~/.ssh 0700, the file 0600.
  as "$AP_UID" "$AP_GID" "$AP_HOME" sh -c '
    umask 077 && mkdir -p "$HOME/.ssh" && chmod 0700 "$HOME/.ssh" && touch "$HOME/.ssh/authorized_keys" &&
    chmod 0600 "$HOME/.ssh/authorized_keys" &&
    { grep -qxF "$1" "$HOME/.ssh/authorized_keys" || printf "%s\n" "$1" >>"$HOME/.ssh/authorized_keys"; }' _ "$pub" ||
    die "could not add $driver's key to $AP_SSH_USER's authorized_keys"

  local hostport="[$AP_SSH_ADDR]:$AP_SSH_PORT" block
  block="Host $alias
  HostName $AP_SSH_ADDR
  Port $AP_SSH_PORT
  User $AP_SSH_USER
  IdentityFile $dir/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $dir/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 10"
  # Rewritten whole, by the driver, through a temporary file: a host started again has a new key.
  as "$d_uid" "$d_gid" "$d_home" sh -c '
    umask 077 && known=$1/known_hosts && { grep -vF "$2 " "$known" 2>/dev/null || true; } >"$known.tmp" &&
    printf "%s %s\n" "$2" "$3" >>"$known.tmp" && mv -f "$known.tmp" "$known"' _ "$dir" "$hostport" "${AP_SSH_HOST_KEY% *}" ||
    die "could not write $dir/known_hosts"
  with_host_block "$dir/config" "$alias" "$block" | as "$d_uid" "$d_gid" "$d_home" sh -c '
    umask 077 && cat >"$1/config.tmp" && mv -f "$1/config.tmp" "$1/config"' _ "$dir" ||
    die "could not write $dir/config"
  printf '%s\n' "AP_SSH_CONFIG=$dir/config" "AP_SSH_IDENTITY=$dir/id_ed25519" "AP_SSH_KNOWN_HOSTS=$dir/known_hosts"
}

# What `stop` could not remove; it goes on with the rest, then fails naming all of it.
LEFT=()

# SIGTERM, and SIGKILL for what still runs after STOP_TIMEOUT_S.
terminate() {
  local pid
  kill -TERM "$@" 2>/dev/null || true
  for pid in "$@"; do
    if ! poll "$STOP_TIMEOUT_S" dead "$pid"; then
      echo "ssh-hosts.sh: sshd ($pid) still running after ${STOP_TIMEOUT_S}s; SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      poll "$STOP_TIMEOUT_S" dead "$pid" || LEFT+=("sshd ($pid)")
    fi
  done
}

cmd_stop() {
  local name=${1:-}
  [[ -n $name ]] || usage
  valid_name "$name"
  local dir
  dir=$(host_dir "$name")
  if ! load_host "$name"; then
    [[ ! -e $dir ]] || die "$dir has no host.env: not removing what this script did not make"
    return 0
  fi
  local pids=() pid
  mapfile -t pids < <(listener_pids)
  # Its sessions (a ControlMaster's among them) outlive the listener; they are its children.
  for pid in "${pids[@]}"; do mapfile -t -O "${#pids[@]}" pids < <(pgrep -P "$pid" -x sshd || true); done
  ((${#pids[@]} == 0)) || terminate "${pids[@]}"
  rm -rf "$dir"
  [[ ! -e $dir ]] || LEFT+=("$dir")
  ((${#LEFT[@]} == 0)) || die "could not remove all of host $name; left: $(printf '%s; ' "${LEFT[@]}")run \`$SELF stop $name\` again"
}

# Names of the hosts started and not stopped, one a line.
cmd_list() {
  local dir
  for dir in "$STATE_DIR"/*/; do
    if [[ -f $dir/host.env ]]; then basename "$dir"; fi
  done
}

main() {
  local verb=${1:-}
  case $verb in
    start | authorize | stop | list) ;;
    *) usage ;;
  esac
  shift
  require_root "$verb" "$@"
  "cmd_$verb" "$@"
}

main "$@"
