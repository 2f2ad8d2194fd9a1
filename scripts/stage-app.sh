#!/usr/bin/env bash
# Copy the built app where any local user can read it and print the directory: the checkout may sit
# under a home (e.g. /root) that a sandbox user cannot enter. The caller removes the directory.
# Only the packages an install gets (`npm ls --omit=dev`) are copied, so that every test runs the CLI
# and the gateway as `npm install -g` leaves them; `--dev` copies all of node_modules (the bench runs pm2).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
app_dir=$(mktemp -d /tmp/agent-profiles-app.XXXXXX)
chmod 755 "$app_dir"
for item in dist units scripts package.json; do
  if [[ -e $repo/$item ]]; then
    cp -a "$repo/$item" "$app_dir/"
  else
    echo "stage-app.sh: $item is missing; the copy goes without it" >&2
  fi
done
if [[ ${1:-} == --dev ]]; then
  cp -a "$repo/node_modules" "$app_dir/"
else
  mkdir -p "$app_dir/node_modules"
  while IFS= read -r dir; do
    [[ $dir == "$repo"/node_modules/* ]] || continue
    rel=${dir#"$repo"/node_modules/}
    mkdir -p "$app_dir/node_modules/$(dirname "$rel")"
    [[ -e $app_dir/node_modules/$rel ]] || cp -a "$dir" "$app_dir/node_modules/$rel"
  done < <(cd "$repo" && npm ls --omit=dev --parseable --all)
fi
chmod -R a+rX "$app_dir"
echo "$app_dir"
