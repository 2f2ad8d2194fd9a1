#!/usr/bin/env bash
# `npm run bench`: build, stage the app, start two private user managers (scripts/user-manager.sh, as the
# tests do: one holds the profiles and pm2, one stays empty for the "1st add" row), run the driver
# (dist/bench/run.js) and let it write BENCHMARKS.md; then remove users, managers, pm2 and gateways.
# Extra arguments go to the driver, e.g. `npm run bench -- --runs 21`, or `-- --phases fleet --out FILE` for
# only the fleet rows (written to FILE: a report of some rows should not replace BENCHMARKS.md).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ $(id -u) -ne 0 ]]; then
  echo "npm run bench needs root: it creates throwaway users and starts their systemd --user (try: sudo npm run bench)" >&2
  exit 2
fi
cd "$repo"

bash scripts/ensure-packages.sh
# GNU time gives each measured command's peak RSS (ru_maxrss of it and its children).
if ! /usr/bin/time -f %M true >/dev/null 2>&1; then
  echo "installing: time" >&2
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends time </dev/null >&2
fi
if [[ ! -f node_modules/pm2/package.json ]]; then
  echo "npm run bench: pm2 (a devDependency) is not installed; run \`npm ci\` first" >&2
  exit 2
fi

npm run --silent build

users=()
app_dir=''
state_dir=$(mktemp -d /tmp/agent-profiles-bench.XXXXXX)
cleanup() {
  local user
  for user in "${users[@]}"; do
    # Stopping the manager stops every gateway; it also kills whatever else the user still runs (pm2).
    bash scripts/user-manager.sh stop "$user" >&2 || echo "bench.sh: could not remove sandbox $user" >&2
  done
  rm -rf "$state_dir" "$app_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

app_dir=$(bash scripts/stage-app.sh --dev)
for role in main empty; do
  bash scripts/user-manager.sh start >"$state_dir/$role.env"
  users+=("$(sed -n 's/^AP_USER=//p' "$state_dir/$role.env")")
done

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain 2>/dev/null) ]]; then commit+=" (with uncommitted changes)"; fi

node "$app_dir/dist/bench/run.js" --app "$app_dir" --main "$state_dir/main.env" --empty "$state_dir/empty.env" \
  --out "$repo/BENCHMARKS.md" --commit "$commit" "$@"
