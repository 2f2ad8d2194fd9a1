#!/usr/bin/env bash
# `npm run demo`: the tool's main job end to end — init, two profiles on their own ports, healthy under a
# real systemd user manager, a restart, a gateway that refuses its config, and clean-up.
# As a user with a running user manager, it uses that manager. As root on a host without one, it starts a
# private manager for a throwaway user (scripts/user-manager.sh) and removes everything at the end.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
npm run --silent build

step() {
  printf '\n\033[1m$ profiles %s\033[0m\n' "$*"
  profiles "$@" || echo "(exit code $?)"
}

user_bus=${DBUS_SESSION_BUS_ADDRESS:-unix:path=${XDG_RUNTIME_DIR:-/run/user/$(id -u)}/bus}
if [[ $(id -u) -ne 0 && -S ${user_bus#unix:path=} ]]; then
  echo "using your own systemd user manager ($user_bus); the demo's profiles are removed at the end"
  profiles() { node "$repo/dist/src/cli.js" "$@"; }
  log_flags=()
  cleanup() { for p in demo-alpha demo-beta demo-broken; do profiles remove "$p" --purge >/dev/null 2>&1 || true; done; }
elif [[ $(id -u) -eq 0 ]]; then
  bash scripts/ensure-packages.sh
  app_dir=$(bash scripts/stage-app.sh)
  eval "$(bash scripts/user-manager.sh start)"
  echo "started a private systemd --user (pid $AP_MANAGER_PID) for the throwaway user $AP_USER"
  profiles() { bash "$repo/scripts/user-manager.sh" exec "$AP_USER" -- node "$app_dir/dist/src/cli.js" "$@"; }
  # No journald here: the template appends each profile's output to a file instead.
  log_flags=(--log-dir "$AP_HOME/logs")
  cleanup() {
    bash "$repo/scripts/user-manager.sh" stop "$AP_USER" >/dev/null || true
    rm -rf "$app_dir"
    echo "stopped the private manager and removed $AP_USER"
  }
else
  echo "demo: no systemd user manager at $user_bus, and not root to start a private one." >&2
  echo "  log in to a session with a user manager, run this as root, or use docker-compose.test.yml" >&2
  exit 2
fi
trap cleanup EXIT

step init "${log_flags[@]}"
step add demo-alpha --port 8642
step add demo-beta --env LOG_LEVEL=debug
step list
printf '\n\033[1m$ curl http://127.0.0.1:8642/health\033[0m\n'
curl -fsS --max-time 5 http://127.0.0.1:8642/health && echo
step restart demo-beta
# A public HOST without API_KEY: the reference gateway refuses to start, and add says why.
step add demo-broken --env HOST=0.0.0.0 --wait 10
step status
step remove demo-broken --purge

# Generations: a good change rolls out; a bad one is reverted by roll; a bad restart is undone by rollback.
step set demo-beta LOG_LEVEL=info
step roll --min-healthy-time 1
step set demo-beta HOST=0.0.0.0
step roll --min-healthy-time 1
step history demo-beta
step set demo-alpha HOST=0.0.0.0 --restart --wait 10
step rollback demo-alpha
step diff demo-alpha 1

step sweep
step doctor
step stop demo-alpha
step list --json
