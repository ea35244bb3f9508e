#!/usr/bin/env bash
# Installs, once, the Debian packages the tests use: chromium (browser tests drive it through
# Playwright's executable_path; Parley never downloads a browser of its own) and docker-compose
# (validates docker-compose.yml; no Docker engine is needed).
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" = 0 ] || sudo=$(command -v sudo || true)
if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || [ -n "$sudo" ]; }; then
  echo "ensure-debian-tools: installing ${missing[*]}" >&2
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
else
  echo "ensure-debian-tools: missing ${missing[*]}; install them with apt-get (tests that need them are skipped)" >&2
fi
