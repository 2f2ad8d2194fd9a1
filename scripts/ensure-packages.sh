#!/usr/bin/env bash
# Install the Debian packages a private user manager needs, where missing (tmux: the terminal `top` is
# tested in; openssh-server and -client: the fleet tests' hosts, scripts/ssh-hosts.sh, whose sshds that
# script starts itself: Debian's package starts nothing at install here), and promtool for the sweep test
# (root only; used by .ci/run and the demo).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(dbus-user-session systemd dbus procps util-linux passwd curl iproute2 tmux openssh-server openssh-client)
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

# promtool, Prometheus's own checker (the sweep test checks the metrics textfile with it), from Debian's
# prometheus package without installing that package: its postinst adds a user and starts a Prometheus
# server (an init.d script where systemd is not PID 1, a unit where it is). Only the one program is taken.
if ! command -v promtool >/dev/null; then
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  # apt downloads as _apt, which must be able to write there.
  chown _apt "$dir" 2>/dev/null || chmod 0777 "$dir"
  echo "installing promtool (from Debian's prometheus package) to /usr/local/bin" >&2
  if ! (cd "$dir" && apt-get download -q prometheus >&2); then
    apt-get update -q >&2
    (cd "$dir" && apt-get download -q prometheus >&2)
  fi
  dpkg-deb --fsys-tarfile "$dir"/prometheus_*.deb | tar -xO ./usr/bin/promtool >"$dir/promtool"
  install -m 0755 "$dir/promtool" /usr/local/bin/promtool
  promtool --version >/dev/null
fi
