#!/usr/bin/env bash
# `npm run demo`: the tool's main job end to end — init, two profiles on their own ports, healthy under a
# real systemd user manager, a restart, a gateway that refuses its config, and clean-up.
# As a user with a running user manager, it uses that manager, refuses to run where an agent-profiles setup
# already exists, and removes all it made. As root, it starts a user manager for a throwaway user
# (scripts/user-manager.sh: a lingering user where systemd is PID 1, a private namespace with its own journald elsewhere) and
# removes it at the end; a clean-up that fails makes the demo fail.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# A staged copy of the app (no sources, as the tests make one) runs the build it was staged with.
if [[ -f tsconfig.json ]]; then npm run --silent build; fi

step() {
  printf '\n\033[1m$ profiles %s\033[0m\n' "$*"
  profiles "$@" || echo "(exit code $?)"
}

# Where the tool keeps its files for this user (as src/paths.ts resolves them).
config_root=${XDG_CONFIG_HOME:-$HOME/.config}
state_root=${XDG_STATE_HOME:-$HOME/.local/state}
own_files=("$config_root/agent-profiles" "$state_root/agent-profiles"
  "$config_root/systemd/user/agent-gateway@.service"
  "$config_root/systemd/user/agent-profiles-sweep.service" "$config_root/systemd/user/agent-profiles-sweep.timer")
# The CLI's compiled-code cache (src/cli-loader.ts): not a setup, but removed again if the demo made it.
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}
cache_dir=$cache_root/agent-profiles
# Directories the demo may create on the way; each is removed again only if it did not exist and is empty.
parent_dirs=("$config_root/systemd/user/default.target.wants" "$config_root/systemd/user" "$config_root/systemd"
  "$config_root" "$state_root" "${state_root%/state}" "$cache_root")

user_bus=${DBUS_SESSION_BUS_ADDRESS:-unix:path=${XDG_RUNTIME_DIR:-/run/user/$(id -u)}/bus}
if [[ $(id -u) -ne 0 && -S ${user_bus#unix:path=} ]]; then
  for f in "${own_files[@]}"; do
    if [[ -e $f || -L $f ]]; then
      echo "demo: you already have an agent-profiles setup ($f); the demo would change it, so it does nothing." >&2
      echo "  run it as root (it then uses a throwaway user), or for another user of this machine" >&2
      exit 2
    fi
  done
  created_dirs=()
  [[ -e $cache_dir ]] || created_dirs+=("$cache_dir")
  # The manager's unit file states the CLI keeps (src/systemd/unit-file-cache.ts): the demo's, unless there was one.
  unit_cache=$cache_dir/unit-file-states.json
  if [[ -e $unit_cache ]]; then unit_cache=""; fi
  for d in "${parent_dirs[@]}"; do [[ -e $d ]] || created_dirs+=("$d"); done
  echo "using your own systemd user manager ($user_bus); everything the demo makes is removed at the end"
  profiles() { node "$repo/dist/src/cli.cjs" "$@"; }
  init_flags=(--no-sweep)
  cleanup() {
    local rc=$? p f d left=()
    for p in demo-alpha demo-beta demo-broken; do
      profiles remove "$p" --purge >/dev/null 2>&1 || [[ ! -d $config_root/agent-profiles/profiles/$p ]] || left+=("profile $p")
    done
    rm -rf "${own_files[@]}"
    [[ ${created_dirs[0]:-} != "$cache_dir" ]] || rm -rf "$cache_dir"
    [[ -z $unit_cache ]] || rm -f "$unit_cache"
    systemctl --user daemon-reload || left+=("the manager's reload")
    for d in "${created_dirs[@]}"; do rmdir "$d" 2>/dev/null || true; done
    for f in "${own_files[@]}" "${created_dirs[@]}"; do [[ ! -e $f ]] || left+=("$f"); done
    if ((${#left[@]})); then
      echo "demo: could not put everything back; left: ${left[*]}" >&2
      exit 1
    fi
    echo "removed the demo's profiles, its files and the template; your setup is as it was"
    exit "$rc"
  }
elif [[ $(id -u) -eq 0 ]]; then
  bash scripts/ensure-packages.sh
  app_dir=$(bash scripts/stage-app.sh)
  eval "$(bash scripts/user-manager.sh start)"
  echo "started a systemd --user ($AP_MODE mode, pid $AP_MANAGER_PID) for the throwaway user $AP_USER"
  profiles() { bash "$repo/scripts/user-manager.sh" exec "$AP_USER" -- node "$app_dir/dist/src/cli.cjs" "$@"; }
  init_flags=()
  # Without journald (a sandbox started with AP_SANDBOX_JOURNAL=0) the template appends each profile's output to a file instead.
  [[ $AP_JOURNAL == yes ]] || init_flags=(--log-dir "$AP_HOME/logs")
  cleanup() {
    local rc=$?
    rm -rf "$app_dir"
    if ! bash "$repo/scripts/user-manager.sh" stop "$AP_USER" >/dev/null; then
      echo "demo: could not remove the throwaway user $AP_USER (see above)" >&2
      exit 1
    fi
    echo "stopped the user manager and removed $AP_USER"
    exit "$rc"
  }
else
  echo "demo: no systemd user manager at $user_bus, and not root to start a private one." >&2
  echo "  log in to a session with a user manager, run this as root, or use docker-compose.test.yml" >&2
  exit 2
fi
trap cleanup EXIT

step init "${init_flags[@]}"
step add demo-alpha --port 8642
step add demo-beta --env LOG_LEVEL=debug
step list
printf '\n\033[1m$ curl http://127.0.0.1:8642/health\033[0m\n'
curl -fsS --max-time 5 http://127.0.0.1:8642/health && echo
step restart demo-beta
# A public HOST without API_KEY: the reference gateway refuses to start, and add says why.
step add demo-broken --env HOST=0.0.0.0 --wait 10
step status
# Its own words, from the journal or its log file.
step logs demo-broken -n 3
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
