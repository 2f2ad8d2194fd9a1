#!/usr/bin/env bash
# What docker-compose.test.yml runs inside its container (or `podman run ... bash /src/scripts/compose-test.sh`
# with the same flags): copy the read-only checkout at /src to /app, so that nothing root-owned
# (node_modules, dist) lands in the contributor's tree, then install the packages and run the unit,
# integration and reliability suites. Needs the network for apt-get and `npm ci`.
set -euo pipefail
src=${1:-/src}
[[ -f $src/package.json ]] || { echo "compose-test.sh: no checkout at $src (mount it read-only there)" >&2; exit 2; }
mkdir -p /app
tar -C "$src" --exclude=./node_modules --exclude=./dist -cf - . | tar -C /app -xf -
cd /app
bash scripts/ensure-packages.sh
npm ci --no-audit --no-fund </dev/null
npm test </dev/null
npm run test:reliability </dev/null
