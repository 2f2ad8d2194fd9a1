#!/usr/bin/env bash
# Copy the built app where any local user can read it and print the directory: the checkout may sit
# under a home (e.g. /root) that a sandbox user cannot enter. The caller removes the directory.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
app_dir=$(mktemp -d /tmp/agent-profiles-app.XXXXXX)
chmod 755 "$app_dir"
for item in dist units scripts package.json node_modules; do
  if [[ -e $repo/$item ]]; then
    cp -a "$repo/$item" "$app_dir/"
  else
    echo "stage-app.sh: $item is missing; the copy goes without it" >&2
  fi
done
chmod -R a+rX "$app_dir"
echo "$app_dir"
