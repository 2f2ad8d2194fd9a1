# shellcheck shell=bash
# Sourced by user-manager.sh and ssh-hosts.sh: waiting with a deadline, and whether a process still runs.

now_ms() {
  local t=${EPOCHREALTIME/./}
  echo $((t / 1000))
}

# Runs "$@" every 50 ms until it succeeds; returns 1 once TIMEOUT_S seconds have passed.
poll() {
  local timeout_s=$1
  shift
  local deadline=$(($(now_ms) + timeout_s * 1000))
  until "$@"; do
    (($(now_ms) < deadline)) || return 1
    sleep 0.05
  done
}

# A zombie still answers kill -0, and an exited process stays one for a second or two where PID 1 is no
# init and reaps orphans only now and then.
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

dead() {
  ! alive "$1"
}
