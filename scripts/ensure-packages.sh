#!/usr/bin/env bash
# Install the Debian packages a private user manager needs, where missing (root only; used by .ci/run and the demo).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(dbus-user-session systemd dbus procps util-linux passwd curl iproute2)
missing=()
for pkg in "${packages[@]}"; do
  if [[ $(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null) != installed ]]; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null >&2
fi
