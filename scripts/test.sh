#!/usr/bin/env bash
# `npm test` (no argument): build, then run unit and integration tests in one node test runner.
# `npm run test:reliability` (argument `reliability`): the reliability suite (test/reliability/): parallel
# adds, SIGKILLed commands, 500+ bad inputs, stale locks, secrets, file modes, squatters on profiles' ports,
# a manager stopped mid-roll, corrupt generations and control characters, and a 200-roll soak; AP_SEED=N
# replays its random choices, AP_SOAK_CYCLES=N shortens the soak.
# Both start real `systemd --user` managers for throwaway users (scripts/user-manager.sh), which takes root.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
suite=${1:-default}

case $suite in
  default)
    what="npm test"
    dirs=(unit integration)
    # The longest integration file takes about two minutes.
    per_test_timeout_ms=300000
    non_root_hint="use 'docker compose -f docker-compose.test.yml run --rm test', or 'npm run test:unit' for the unit tests alone."
    ;;
  reliability)
    what="npm run test:reliability"
    dirs=(reliability)
    # The soak alone takes several minutes; the whole suite is bounded by CI's own budget.
    per_test_timeout_ms=1200000
    non_root_hint="use 'docker compose -f docker-compose.test.yml run --rm test npm run test:reliability'."
    ;;
  *)
    echo "scripts/test.sh: unknown suite '$suite' (expected nothing or 'reliability')" >&2
    exit 2
    ;;
esac

if [[ $(id -u) -ne 0 ]]; then
  echo "$what needs root (the tests create users and run systemd --user): $non_root_hint" >&2
  exit 2
fi

cd "$repo"
npm run build

app_dir=$(bash "$repo/scripts/stage-app.sh")
tap=$(mktemp)
trap 'rm -rf "$app_dir" "$tap"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
export AP_APP_DIR=$app_dir

# node 20 does not expand globs itself; an unmatched pattern must not reach it literally.
shopt -s nullglob
files=()
for dir in "${dirs[@]}"; do files+=("$repo"/dist/test/"$dir"/*.test.js); done
shopt -u nullglob
if ((${#files[@]} == 0)); then
  echo "scripts/test.sh: no compiled tests under dist/test/{$(IFS=,; echo "${dirs[*]}")}" >&2
  exit 1
fi

rc=0
node --test --test-concurrency=2 --test-timeout="$per_test_timeout_ms" "${files[@]}" | tee "$tap" || rc=$?
if ((rc != 0)); then
  # The TAP of a whole run is thousands of lines and a log viewer may show only its end: the failures again,
  # each with its error and without its stack, and without the tests only cancelled along with a failed hook.
  printf '\n=== %s: the failures again\n' "$what"
  awk '
    /^ *not ok / { block = $0; open = 1; stack = -1; next }
    !open { next }
    stack >= 0 && match($0, /[^ ]/) - 1 > stack { next }
    { stack = -1 }
    /^ *stack: / { stack = match($0, /[^ ]/) - 1; next }
    { block = block "\n" $0 }
    /^ *\.\.\.$/ { open = 0; if (block !~ /cancelledByParent/) print block }
  ' "$tap" | head -n 400 || true
fi
exit "$rc"
