#!/usr/bin/env bash
# `npm run test:reliability`: build, then run the reliability suite (test/reliability/) in one node test
# runner against real `systemd --user` managers for throwaway users (scripts/user-manager.sh): parallel adds,
# SIGKILLed commands, 500+ bad inputs, secrets, file modes, a manager stopped mid-roll and a 200-roll soak.
# Needs root. AP_SEED=N replays the random choices of a failed run; AP_SOAK_CYCLES=N shortens the soak.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [[ $(id -u) -ne 0 ]]; then
  echo "npm run test:reliability needs root (it creates users and runs systemd --user): use 'docker compose -f docker-compose.test.yml run --rm test npm run test:reliability'." >&2
  exit 2
fi

cd "$repo"
npm run build

app_dir=$(bash "$repo/scripts/stage-app.sh")
trap 'rm -rf "$app_dir"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
export AP_APP_DIR=$app_dir

shopt -s nullglob
files=("$repo"/dist/test/reliability/*.test.js)
shopt -u nullglob
if ((${#files[@]} == 0)); then
  echo "scripts/test-reliability.sh: no compiled tests under dist/test/reliability" >&2
  exit 1
fi

# Two files at a time on a 2-core machine; the soak alone takes several minutes, so the per-test limit is
# generous, and the whole suite is bounded by CI's own budget.
rc=0
node --test --test-concurrency=2 --test-timeout=1200000 "${files[@]}" || rc=$?
exit "$rc"
