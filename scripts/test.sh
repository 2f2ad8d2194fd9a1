#!/usr/bin/env bash
# `npm test`: build, then run unit and integration tests in one node test runner. Integration tests start
# real `systemd --user` managers for throwaway users (scripts/user-manager.sh), which takes root.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [[ $(id -u) -ne 0 ]]; then
  echo "npm test needs root (integration tests create users and run systemd --user): use 'docker compose -f docker-compose.test.yml run --rm test', or 'npm run test:unit' for the unit tests alone." >&2
  exit 2
fi

cd "$repo"
npm run build

app_dir=$(bash "$repo/scripts/stage-app.sh")
trap 'rm -rf "$app_dir"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
export AP_APP_DIR=$app_dir

# node 20 does not expand globs itself; an unmatched pattern must not reach it literally.
shopt -s nullglob
files=("$repo"/dist/test/unit/*.test.js "$repo"/dist/test/integration/*.test.js)
shopt -u nullglob
if ((${#files[@]} == 0)); then
  echo "scripts/test.sh: no compiled tests under dist/test/{unit,integration}" >&2
  exit 1
fi

rc=0
node --test --test-concurrency=2 --test-timeout=300000 "${files[@]}" || rc=$?
exit "$rc"
