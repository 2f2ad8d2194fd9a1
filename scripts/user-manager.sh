#!/usr/bin/env bash
# A real `systemd --user` for a throwaway user, on either kind of host.
#
#   user-manager.sh start [--user NAME]            create the user, start its manager, print its env
#   user-manager.sh exec NAME [VAR=value...] -- CMD [ARGS...]   run CMD as that user, exit code passed through
#   user-manager.sh stop NAME                      stop the manager, remove the user and everything made for it
#   user-manager.sh status NAME                    exit 0 if its manager is running, 3 if not
#   user-manager.sh start-manager NAME             start the manager again for an existing sandbox, print its env
#   user-manager.sh list                           names of the sandboxes this machine knows about
#
# Where systemd is PID 1 and logind answers (an ordinary host, a systemd container), the user gets what
# any user gets: `loginctl enable-linger` starts a real user@UID.service, with the host's journald.
# Elsewhere ("namespace" mode) the manager refuses to start unless /run/systemd/system exists, which on
# the host would tell every program that systemd is PID 1; so it runs in its own mount namespace with a
# private tmpfs on /run/systemd. It also needs a cgroup subtree of its own, which logind would delegate
# on a real system; there root does. AP_SANDBOX_MODE=linger|namespace overrides the choice.
# In namespace mode a private systemd-journald runs in the same mount namespace (its files in
# STATE_DIR/NAME.journal), so that units log to it and `journalctl --user` reads them through `exec`;
# AP_SANDBOX_JOURNAL=0 starts the sandbox without it (units' output then goes nowhere but to log files).
#
# `stop` exits 1, naming what is left, when it cannot remove everything it made.
set -euo pipefail

readonly STATE_DIR=/run/agent-profiles-sandbox
readonly SYSTEMD_BIN=/usr/lib/systemd/systemd
readonly JOURNALD_BIN=/lib/systemd/systemd-journald
readonly START_TIMEOUT_S=${AP_START_TIMEOUT_S:-15}
readonly STOP_TIMEOUT_S=${AP_STOP_TIMEOUT_S:-10}
SELF=$(readlink -f "${BASH_SOURCE[0]}")
readonly SELF

die() {
  printf 'user-manager.sh: %s\n' "$*" >&2
  exit 1
}

# linger where systemd is PID 1 and logind answers on the system bus; namespace elsewhere.
host_mode() {
  case ${AP_SANDBOX_MODE:-auto} in
    linger | namespace)
      echo "$AP_SANDBOX_MODE"
      return
      ;;
    auto) ;;
    *) die "AP_SANDBOX_MODE='$AP_SANDBOX_MODE': want auto, linger or namespace" ;;
  esac
  if [[ -d /run/systemd/system && $(readlink -f /proc/1/exe) == "$(readlink -f "$SYSTEMD_BIN")" ]] &&
    busctl --system call org.freedesktop.login1 /org/freedesktop/login1 org.freedesktop.login1.Manager \
      ListUsers >/dev/null 2>&1; then
    echo linger
  else
    echo namespace
  fi
}

usage() {
  sed -n '4,9s/^#   //p' "$SELF" >&2
  exit 2
}

require_root() {
  [[ $(id -u) -eq 0 ]] ||
    die "must run as root: it creates a user, cgroups and a mount namespace (try: sudo bash $SELF $*)"
}

valid_name() {
  [[ $1 =~ ^[a-z_][a-z0-9_-]{0,30}$ ]] || die "invalid user name '$1' (want [a-z_][a-z0-9_-]*, at most 31 chars)"
}

# now_ms, poll, alive, dead.
# shellcheck source=scripts/wait-lib.sh
source "$(dirname "$SELF")/wait-lib.sh"

# useradd/userdel and the shared user.slice cgroups must not be changed by two sandboxes at once.
lock() {
  exec {LOCK_FD}>>"$STATE_DIR/.lock"
  flock -w 60 "$LOCK_FD" || die "timed out waiting for $STATE_DIR/.lock"
}

unlock() {
  if [[ -n ${LOCK_FD-} ]]; then
    exec {LOCK_FD}>&-
    LOCK_FD=''
  fi
}

# Where the manager needs a writable subtree: the named v1 "systemd" and the v2 "unified" hierarchy on
# a hybrid host, the root itself on a pure v2 host.
cgroup_roots() {
  if [[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]]; then
    echo /sys/fs/cgroup
    return
  fi
  local d
  for d in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
    if [[ -d $d && $(stat -fc %T "$d") == cgroup* ]]; then
      echo "$d"
    fi
  done
}

# cgroupfs directories go with rmdir only, children first; a cgroup whose last task is still exiting
# refuses with EBUSY for a moment.
remove_cgroup_tree() {
  [[ -d $1 ]] || return 0
  find "$1" -depth -type d -exec rmdir {} + 2>/dev/null || true
  [[ ! -d $1 ]]
}

user_path() {
  local path=/usr/local/bin:/usr/bin:/bin node_dir
  # Units and the CLI run `node`; it may live elsewhere (nvm, a tarball).
  if node_dir=$(dirname "$(command -v node)" 2>/dev/null) && [[ :$path: != *":$node_dir:"* ]]; then
    path=$node_dir:$path
  fi
  echo "$path"
}

state_file() { echo "$STATE_DIR/$1.env"; }

# Shell-sourceable and trivially parsed by the test helper: values never need quoting.
write_state() {
  local file=$1 key
  shift
  for key in "$@"; do
    [[ ${!key} =~ ^[A-Za-z0-9_./:=@+,-]*$ ]] || die "refusing to write $key='${!key}': unexpected characters"
  done
  for key in "$@"; do
    printf '%s=%s\n' "$key" "${!key}"
  done >"$file.tmp"
  mv -f "$file.tmp" "$file"
}

load_state() {
  local file key value
  file=$(state_file "$1")
  [[ -f $file ]] || return 1
  AP_USER='' AP_UID='' AP_GID='' AP_HOME='' AP_PATH='' XDG_RUNTIME_DIR='' DBUS_SESSION_BUS_ADDRESS=''
  AP_MANAGER_PID='' AP_MANAGER_LOG='' AP_MODE='' AP_JOURNAL='' AP_JOURNAL_DIR='' AP_JOURNALD_PID=''
  while IFS='=' read -r key value; do
    case $key in
      AP_USER | AP_UID | AP_GID | AP_HOME | AP_PATH | XDG_RUNTIME_DIR | DBUS_SESSION_BUS_ADDRESS | AP_MANAGER_PID | AP_MANAGER_LOG | AP_MODE | AP_JOURNAL | AP_JOURNAL_DIR | AP_JOURNALD_PID)
        printf -v "$key" '%s' "$value"
        ;;
    esac
  done <"$file"
  [[ $AP_UID =~ ^[0-9]+$ && $AP_GID =~ ^[0-9]+$ ]] || die "corrupt state file $file"
  # State files written before linger mode existed are namespace sandboxes; before the journal, without one.
  [[ -n $AP_MODE ]] || AP_MODE=namespace
  [[ -n $AP_JOURNAL ]] || AP_JOURNAL=no
}

# Sets AS_USER to the prefix that runs a command as the user, with the environment a login of theirs
# would have; `env -i` so that nothing of root's leaks in.
set_as_user() {
  AS_USER=()
  local pid
  # The sandbox's journald and its journal are seen only inside the manager's mount namespace.
  if [[ $AP_MODE == namespace && $AP_JOURNAL == yes ]] && pid=$(journald_pid); then
    AS_USER=(nsenter -t "$pid" -m --wd="$PWD")
  fi
  AS_USER+=(setpriv --reuid="$AP_UID" --regid="$AP_GID" --init-groups
    env -i HOME="$AP_HOME" USER="$AP_USER" LOGNAME="$AP_USER" PATH="$AP_PATH"
    XDG_RUNTIME_DIR="$XDG_RUNTIME_DIR" DBUS_SESSION_BUS_ADDRESS="$DBUS_SESSION_BUS_ADDRESS")
}

as_user() {
  set_as_user
  "${AS_USER[@]}" "$@"
}

# Ready means: the bus socket exists, the manager is on it, and it has finished starting default.target,
# so units enabled there are already up when a test begins.
manager_ready() {
  [[ -S $XDG_RUNTIME_DIR/bus ]] || return 1
  local state
  state=$(as_user busctl --user get-property org.freedesktop.systemd1 /org/freedesktop/systemd1 \
    org.freedesktop.systemd1.Manager SystemState 2>/dev/null) || return 1
  [[ $state == 's "running"' || $state == 's "degraded"' ]]
}

# Stops the wait early when the manager, or the launcher that becomes it, has exited.
manager_ready_or_dead() {
  manager_ready && return 0
  if dead "$LAUNCHER_PID" || { [[ -s $STATE_DIR/$AP_USER.pid ]] && dead "$(<"$STATE_DIR/$AP_USER.pid")"; }; then
    MANAGER_DIED=1
    return 0
  fi
  return 1
}

# A UID no sandbox had since boot (the caller holds the lock). logind keeps a user's record, keyed by UID,
# for a while after its manager stopped (UserStopDelaySec=, 10 s by default): a new sandbox given the UID
# that userdel had just freed saw its user@UID.service stopped 10 s after it started, by that old record.
fresh_uid() {
  local last=0 highest
  [[ ! -f $STATE_DIR/.last-uid ]] || last=$(<"$STATE_DIR/.last-uid")
  [[ $last =~ ^[0-9]+$ ]] || last=0
  highest=$(getent passwd | awk -F: '$3 >= 1000 && $3 < 60000 && $3 > m { m = $3 } END { print m + 0 }')
  local uid=$((last > highest ? last : highest))
  uid=$((uid < 1000 ? 1000 : uid + 1))
  # Past the range useradd hands out, let it choose again (a reuse then is at least not the last one freed).
  if ((uid >= 60000)); then uid=''; fi
  echo "$uid"
}

# Sets the sandbox's variables from the new user and writes its state file.
create_user() {
  local name=$1 mode=$2 uid
  uid=$(fresh_uid)
  # Set first: a signal may land right after useradd returns, and on_start_exit must then remove the user.
  NEW_USER=$name
  if ! useradd -m -b /home -s /bin/bash ${uid:+-u "$uid"} "$name" >&2; then
    NEW_USER=''
    die "useradd $name failed"
  fi
  AP_USER=$name
  AP_UID=$(id -u "$name")
  echo "$AP_UID" >"$STATE_DIR/.last-uid"
  AP_GID=$(id -g "$name")
  AP_HOME=$(getent passwd "$name" | cut -d: -f6)
  AP_PATH=$(user_path)
  XDG_RUNTIME_DIR=/run/user/$AP_UID
  DBUS_SESSION_BUS_ADDRESS=unix:path=$XDG_RUNTIME_DIR/bus
  AP_MANAGER_PID=''
  AP_MANAGER_LOG=$STATE_DIR/$name.log
  AP_MODE=$mode
  AP_JOURNAL=yes
  AP_JOURNAL_DIR=''
  AP_JOURNALD_PID=''
  if [[ $mode == namespace ]]; then
    case ${AP_SANDBOX_JOURNAL:-1} in
      1) AP_JOURNAL_DIR=$STATE_DIR/$name.journal ;;
      0) AP_JOURNAL=no ;;
      *) die "AP_SANDBOX_JOURNAL='$AP_SANDBOX_JOURNAL': want 1 (a private journald) or 0 (none)" ;;
    esac
  fi
  # Written (atomically) before anything else exists, so that `stop` can undo a start that died half way.
  save_state
}

save_state() {
  write_state "$(state_file "$AP_USER")" AP_USER AP_UID AP_GID AP_HOME AP_PATH XDG_RUNTIME_DIR \
    DBUS_SESSION_BUS_ADDRESS AP_MANAGER_PID AP_MANAGER_LOG AP_MODE AP_JOURNAL AP_JOURNAL_DIR AP_JOURNALD_PID
}

# Namespace mode: the subtree logind would delegate.
make_cgroups() {
  local root dir
  while read -r root; do
    dir=$root/user.slice/user-$AP_UID.slice
    # A UID is reused after userdel; an empty subtree left by a crashed run is harmless to remove.
    remove_cgroup_tree "$dir" || die "$dir already exists and still has processes; not reusing it"
    mkdir -p "$dir/user@$AP_UID.service"
    chown -R "$AP_UID:$AP_GID" "$dir/user@$AP_UID.service"
  done < <(cgroup_roots)
}

# Launches the manager of sandbox NAME (its state already loaded), waits until it answers, checks its pid
# and writes the state file; shared by `start` and `start-manager`. A fresh runtime dir each time.
launch_manager() {
  local name=$1
  rm -rf "$XDG_RUNTIME_DIR"
  install -d -m 0700 -o "$AP_UID" -g "$AP_GID" "$XDG_RUNTIME_DIR"
  rm -f "$STATE_DIR/$name.journald.pid"
  # On the host's file system, so that it outlives the namespace and root can read it; kept across
  # start-manager, as a host's journal is kept across a reboot.
  [[ $AP_JOURNAL != yes ]] || install -d -m 2755 -o root -g systemd-journal "$AP_JOURNAL_DIR"

  # setsid: the manager outlives this script and must not get signals meant for whoever ran it. It does
  # not fork here (a background job of a non-interactive shell leads no process group), so $! is the
  # process that becomes the manager.
  setsid unshare -m --propagation private bash "$SELF" __in-namespace "$name" \
    </dev/null >>"$AP_MANAGER_LOG" 2>&1 &
  LAUNCHER_PID=$!

  MANAGER_DIED=0
  if ! poll "$START_TIMEOUT_S" manager_ready_or_dead || ((MANAGER_DIED)); then
    local why="did not answer on $DBUS_SESSION_BUS_ADDRESS within ${START_TIMEOUT_S}s"
    ((MANAGER_DIED)) && why="exited during startup"
    printf 'user-manager.sh: systemd --user for %s %s; its log (%s):\n' "$name" "$why" "$AP_MANAGER_LOG" >&2
    if [[ -s $AP_MANAGER_LOG ]]; then sed 's/^/  | /' "$AP_MANAGER_LOG" >&2; else echo '  (empty)' >&2; fi
    exit 1
  fi

  AP_MANAGER_PID=$(<"$STATE_DIR/$name.pid")
  [[ $(readlink -f "/proc/$AP_MANAGER_PID/exe") == "$(readlink -f "$SYSTEMD_BIN")" ]] ||
    die "pid $AP_MANAGER_PID is not $SYSTEMD_BIN"
  if [[ $AP_JOURNAL == yes ]]; then
    AP_JOURNALD_PID=$(cat "$STATE_DIR/$name.journald.pid" 2>/dev/null) || die "journald of $name wrote no pid"
    journald_pid >/dev/null || die "pid $AP_JOURNALD_PID is not $JOURNALD_BIN"
  fi
  save_state
  cat "$(state_file "$name")"
}

# Linger mode: logind starts user@UID.service, as at boot for a lingering user; `start-manager` starts it
# again after a test stopped it.
launch_linger_manager() {
  local name=$1 how=$2
  if [[ $how == enable ]]; then
    loginctl enable-linger "$name" || die "loginctl enable-linger $name failed"
  else
    systemctl start --no-block "user@$AP_UID.service" || die "systemctl start user@$AP_UID.service failed"
  fi
  MANAGER_DIED=0
  if ! poll "$START_TIMEOUT_S" linger_ready_or_failed || ((MANAGER_DIED)); then
    printf 'user-manager.sh: user@%s.service for %s did not answer on %s within %ss; its journal:\n' \
      "$AP_UID" "$name" "$DBUS_SESSION_BUS_ADDRESS" "$START_TIMEOUT_S" >&2
    journalctl -b --no-pager -n 40 -u "user@$AP_UID.service" 2>&1 | sed 's/^/  | /' >&2 || true
    exit 1
  fi
  AP_MANAGER_PID=$(systemctl show -p MainPID --value "user@$AP_UID.service")
  [[ $(readlink -f "/proc/$AP_MANAGER_PID/exe") == "$(readlink -f "$SYSTEMD_BIN")" ]] ||
    die "user@$AP_UID.service runs pid $AP_MANAGER_PID, which is not $SYSTEMD_BIN"
  save_state
  cat "$(state_file "$name")"
}

linger_ready_or_failed() {
  manager_ready && return 0
  if [[ $(systemctl show -p ActiveState --value "user@$AP_UID.service") == failed ]]; then
    MANAGER_DIED=1
    return 0
  fi
  return 1
}

cmd_start() {
  local name=''
  while (($#)); do
    case $1 in
      --user)
        name=${2:?--user needs a name}
        shift 2
        ;;
      *) usage ;;
    esac
  done
  [[ -n $name ]] || name=aptest-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
  valid_name "$name"
  ! getent passwd "$name" >/dev/null || die "user $name already exists; start only makes fresh users"
  mkdir -p -m 0700 "$STATE_DIR"

  STARTED=0
  NEW_USER=''
  LAUNCHER_PID=''
  trap 'on_start_exit "$?"' EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT

  local mode
  mode=$(host_mode)
  lock
  create_user "$name" "$mode"
  [[ $mode == linger ]] || make_cgroups
  unlock

  # In linger mode the manager logs to the journal; the file stays empty.
  : >"$AP_MANAGER_LOG"
  if [[ $mode == linger ]]; then
    launch_linger_manager "$name" enable
  else
    launch_manager "$name"
  fi
  STARTED=1
}

# A start that fails or is interrupted leaves nothing behind.
on_start_exit() {
  local rc=$1
  trap - EXIT TERM INT
  unlock
  # Still root and not yet systemd, the launcher would escape both the PID check and the kill by UID.
  if ((!STARTED)) && [[ -n ${LAUNCHER_PID-} ]]; then
    kill -KILL "$LAUNCHER_PID" 2>/dev/null || true
    wait "$LAUNCHER_PID" 2>/dev/null || true
  fi
  if ((!STARTED)) && [[ -n ${NEW_USER-} ]]; then
    if [[ -f $(state_file "$NEW_USER") ]]; then
      (cmd_stop "$NEW_USER") >&2 || true
    elif getent passwd "$NEW_USER" >/dev/null; then
      userdel -r "$NEW_USER" >/dev/null 2>&1 || true
    fi
  fi
  exit "$rc"
}

# Runs as root inside the new mount namespace, then becomes the manager: every step execs, so this
# process's PID is the manager's.
cmd_in_namespace() {
  load_state "$1" || die "no state for $1"
  local root
  # An empty /run/systemd on the host says nothing; only /run/systemd/system is the marker.
  mkdir -p /run/systemd
  # Not smaller: daemon-reload refuses unless 16 MiB are free on /run/systemd (a tmpfs only uses what it holds).
  mount -t tmpfs -o mode=0755,size=64m tmpfs /run/systemd
  mkdir /run/systemd/system
  local log_target=console
  if [[ $AP_JOURNAL == yes ]]; then
    start_journald
    # Only from its start: switched at run time, systemd 252 does not open the journal.
    log_target=journal
  fi
  while read -r root; do
    echo $$ >"$root/user.slice/user-$AP_UID.slice/user@$AP_UID.service/cgroup.procs"
  done < <(cgroup_roots)
  echo $$ >"$STATE_DIR/$AP_USER.pid"
  exec setpriv --reuid="$AP_UID" --regid="$AP_GID" --init-groups \
    env -i HOME="$AP_HOME" USER="$AP_USER" LOGNAME="$AP_USER" PATH="$AP_PATH" \
    XDG_RUNTIME_DIR="$XDG_RUNTIME_DIR" "$SYSTEMD_BIN" --user --log-target="$log_target"
}

# Inside the namespace, as root, before the shell moves into the user's cgroup (journald must not be
# counted among the user's processes): ../shared/JOURNALD-SANDBOX.md's recipe.
start_journald() {
  mkdir /run/systemd/journal /run/systemd/journald.conf.d
  mount --bind "$AP_JOURNAL_DIR" /var/log/journal
  # Without it journald keeps to the volatile /run/log/journal, where no per-user file is written.
  touch /run/systemd/journal/flushed
  # ReadKMsg exactly: misspelt it is ignored and the host's kernel log lands in the sandbox's journal.
  printf '%s\n' '[Journal]' Storage=persistent ReadKMsg=no SystemMaxUse=32M ForwardToSyslog=no ForwardToWall=no \
    >/run/systemd/journald.conf.d/sandbox.conf
  # A grandchild (the subshell exits at once): its parent is no process that becomes the manager.
  (setsid "$JOURNALD_BIN" </dev/null &
    echo $! >"$STATE_DIR/$AP_USER.journald.pid")
  poll 5 test -S /run/systemd/journal/stdout || die "systemd-journald made no /run/systemd/journal/stdout within 5s"
}

# The sandbox's journald, or nothing: a recycled PID must not be killed or entered.
journald_pid() {
  local pid=$AP_JOURNALD_PID
  [[ -n $pid ]] || pid=$(cat "$STATE_DIR/$AP_USER.journald.pid" 2>/dev/null) || return 1
  alive "$pid" || return 1
  [[ $(readlink -f "/proc/$pid/exe") == "$(readlink -f "$JOURNALD_BIN")" ]] || return 1
  echo "$pid"
}

# After the manager: journald syncs its files and exits on SIGTERM.
stop_journald() {
  local pid
  if pid=$(journald_pid); then
    terminate "$pid" systemd-journald
    dead "$pid" || LEFT+=("systemd-journald ($pid)")
  fi
  rm -f "$STATE_DIR/$AP_USER.journald.pid"
}

cmd_exec() {
  local name=${1:-}
  [[ -n $name ]] || usage
  shift
  valid_name "$name"
  load_state "$name" || die "no sandbox named $name (see: $SELF list)"
  local extra=()
  while (($#)) && [[ $1 != -- ]]; do
    [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "expected VAR=value or --, got '$1'"
    extra+=("$1")
    shift
  done
  [[ ${1-} == -- ]] || usage
  shift
  (($#)) || usage
  # The caller's directory may be unreadable for the user.
  cd "$AP_HOME"
  set_as_user
  exec "${AS_USER[@]}" "${extra[@]}" "$@"
}

# The manager's own process, or nothing: a recycled PID must not be killed.
manager_pid() {
  local pid=$AP_MANAGER_PID
  if [[ $AP_MODE == linger ]]; then
    pid=$(systemctl show -p MainPID --value "user@$AP_UID.service" 2>/dev/null) || return 1
    [[ $pid != 0 ]] || return 1
  fi
  [[ -n $pid ]] || pid=$(cat "$STATE_DIR/$AP_USER.pid" 2>/dev/null) || return 1
  alive "$pid" || return 1
  [[ $(stat -c %u "/proc/$pid" 2>/dev/null) == "$AP_UID" ]] || return 1
  [[ $(readlink -f "/proc/$pid/exe") == "$(readlink -f "$SYSTEMD_BIN")" ]] || return 1
  echo "$pid"
}

user_pids() {
  # ps exits 1 when the user has no process left (under an init that reaps at once, the usual case).
  { ps -o pid=,stat= -u "$AP_UID" 2>/dev/null || true; } | awk '$2 !~ /^Z/ { print $1 }'
}

no_user_pids() {
  [[ -z $(user_pids) ]]
}

# What `stop` could not remove; it goes on with the rest, then fails naming all of it.
LEFT=()

kill_leftovers() {
  local root pids
  if [[ $AP_MODE == namespace ]]; then
    while read -r root; do
      # cgroup.kill (v2, Linux 5.14+) also catches what runs in the subtree under another UID.
      if [[ -w $root/user.slice/user-$AP_UID.slice/user@$AP_UID.service/cgroup.kill ]]; then
        echo 1 >"$root/user.slice/user-$AP_UID.slice/user@$AP_UID.service/cgroup.kill" || true
      fi
    done < <(cgroup_roots)
  fi
  pids=$(user_pids)
  [[ -n $pids ]] || return 0
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
  poll "$STOP_TIMEOUT_S" no_user_pids || LEFT+=("processes $(user_pids | tr '\n' ' ')that survive SIGKILL")
}

remove_cgroups() {
  local root dir
  while read -r root; do
    dir=$root/user.slice/user-$AP_UID.slice
    poll "$STOP_TIMEOUT_S" remove_cgroup_tree "$dir" || LEFT+=("$dir")
  done < <(cgroup_roots)
}

# SIGTERM, and SIGKILL for what is still running after STOP_TIMEOUT_S; waits a while for that too.
terminate() {
  local pid=$1 what=$2
  kill -TERM "$pid"
  if ! poll "$STOP_TIMEOUT_S" dead "$pid"; then
    echo "user-manager.sh: $what ($pid) still running after ${STOP_TIMEOUT_S}s; SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    poll "$STOP_TIMEOUT_S" dead "$pid" || true
  fi
}

# Namespace mode: SIGTERM makes the manager stop its units and exit.
stop_namespace_manager() {
  local pid
  if pid=$(manager_pid); then terminate "$pid" "systemd --user"; fi
}

linger_gone() {
  [[ $(systemctl show -p ActiveState --value "user-$AP_UID.slice" 2>/dev/null) != active &&
    $(systemctl show -p ActiveState --value "user@$AP_UID.service" 2>/dev/null) != deactivating &&
    ! -e $XDG_RUNTIME_DIR ]]
}

# Linger mode: stopping the user's slice stops user@UID.service, the units it runs, any session of the
# user and user-runtime-dir@UID (which removes /run/user/UID), as logind does when a user goes away.
stop_linger_manager() {
  loginctl disable-linger "$AP_USER" 2>/dev/null || true
  systemctl stop --no-block "user-$AP_UID.slice" 2>/dev/null || true
  # A gateway that ignores SIGTERM holds the stop for its TimeoutStopSec; the sandbox does not wait that out.
  if ! poll "$STOP_TIMEOUT_S" linger_gone; then
    echo "user-manager.sh: user-$AP_UID.slice still stopping after ${STOP_TIMEOUT_S}s; SIGKILL" >&2
    systemctl kill --signal=KILL "user-$AP_UID.slice" 2>/dev/null || true
    poll "$STOP_TIMEOUT_S" linger_gone ||
      LEFT+=("user-$AP_UID.slice ($(systemctl show -p ActiveState --value "user-$AP_UID.slice")) or $XDG_RUNTIME_DIR")
  fi
  rm -f "/var/lib/systemd/linger/$AP_USER"
}

cmd_stop() {
  local name=${1:-}
  [[ -n $name ]] || usage
  valid_name "$name"
  if ! load_state "$name"; then
    getent passwd "$name" >/dev/null &&
      die "$name has no state file in $STATE_DIR: not removing a user this script did not create"
    return 0
  fi

  if [[ $AP_MODE == linger ]]; then stop_linger_manager; else stop_namespace_manager; fi
  kill_leftovers
  [[ $AP_JOURNAL != yes || $AP_MODE != namespace ]] || stop_journald

  lock
  if [[ $AP_MODE == namespace ]]; then
    remove_cgroups
    rm -rf "$XDG_RUNTIME_DIR" "/var/lib/systemd/linger/$name"
    [[ -z $AP_JOURNAL_DIR ]] || rm -rf "$AP_JOURNAL_DIR"
    [[ -z $AP_JOURNAL_DIR || ! -e $AP_JOURNAL_DIR ]] || LEFT+=("$AP_JOURNAL_DIR")
  fi
  if getent passwd "$name" >/dev/null; then
    local out
    if out=$(userdel -r "$name" 2>&1); then
      # It warns that there is no mail spool; none was ever made.
      grep -v 'mail spool' <<<"$out" >&2 || true
    else
      LEFT+=("the user (userdel -r: $out)")
    fi
  fi
  [[ ! -e $AP_HOME ]] || LEFT+=("$AP_HOME")
  if ((${#LEFT[@]})); then
    # The state file stays, so that `stop` can be run again once the cause is gone.
    die "could not remove all of sandbox $name; left: $(printf '%s; ' "${LEFT[@]}")run \`$SELF stop $name\` again"
  fi
  rm -f "$(state_file "$name")" "$STATE_DIR/$name.pid" "$AP_MANAGER_LOG"
  unlock
}

# Starts the manager again for a sandbox whose manager has exited (a test stopped it with SIGTERM): same
# user, home and cgroups; a fresh runtime dir, as at the first start.
cmd_start_manager() {
  local name=${1:-}
  [[ -n $name ]] || usage
  valid_name "$name"
  load_state "$name" || die "no sandbox named $name (see: $SELF list)"
  local pid
  if pid=$(manager_pid); then
    die "the manager of $name is still running (pid $pid); stop it first"
  fi
  getent passwd "$name" >/dev/null || die "user $name no longer exists"

  STARTED=0
  NEW_USER=''
  LAUNCHER_PID=''
  trap 'on_restart_exit "$?"' EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT

  if [[ $AP_MODE == linger ]]; then
    launch_linger_manager "$name" start
  else
    rm -f "$STATE_DIR/$name.pid"
    # Its namespace goes with the old manager; the new one gets a journald of its own, on the same files.
    if [[ $AP_JOURNAL == yes ]]; then
      LEFT=()
      stop_journald
      ((${#LEFT[@]} == 0)) || die "could not stop the old ${LEFT[*]}"
      AP_JOURNALD_PID=''
    fi
    launch_manager "$name"
  fi
  STARTED=1
}

# A failed restart kills its launcher but leaves the user: `stop` removes the sandbox as usual.
on_restart_exit() {
  local rc=$1
  trap - EXIT TERM INT
  if ((!STARTED)) && [[ -n ${LAUNCHER_PID-} ]]; then
    kill -KILL "$LAUNCHER_PID" 2>/dev/null || true
    wait "$LAUNCHER_PID" 2>/dev/null || true
  fi
  exit "$rc"
}

cmd_status() {
  local name=${1:-}
  [[ -n $name ]] || usage
  valid_name "$name"
  load_state "$name" || {
    echo "$name: no such sandbox"
    exit 3
  }
  cat "$(state_file "$name")"
  local pid
  if pid=$(manager_pid) && manager_ready; then
    echo "manager: running (pid $pid)"
  else
    echo "manager: not running"
    exit 3
  fi
}

cmd_list() {
  local f
  for f in "$STATE_DIR"/*.env; do
    [[ -e $f ]] || continue
    f=${f##*/}
    echo "${f%.env}"
  done
}

main() {
  local cmd=${1:-}
  [[ -n $cmd ]] || usage
  shift
  require_root "$cmd" "$@"
  case $cmd in
    start) cmd_start "$@" ;;
    exec) cmd_exec "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    start-manager) cmd_start_manager "$@" ;;
    list) cmd_list ;;
    __in-namespace) cmd_in_namespace "$@" ;;
    *) usage ;;
  esac
}

main "$@"
