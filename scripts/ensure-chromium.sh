#!/usr/bin/env bash
# Installs Debian's chromium once (browser tests drive it with Playwright's executable_path;
# Parley never downloads a browser build of its own).
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: installing Debian's chromium" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
elif command -v sudo >/dev/null 2>&1; then
  sudo apt-get update -qq >&2 && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
else
  echo "ensure-chromium: chromium is missing; install it (apt-get install chromium); browser tests will be skipped" >&2
fi
