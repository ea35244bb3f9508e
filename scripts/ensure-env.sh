#!/usr/bin/env bash
# ensure-env.sh services|bot
# Builds (once) the virtualenv for one of Parley's two environments from its lock file, in a
# cache outside the clone keyed by the lock file's hash and the interpreter's version, and
# links it at .envs/<name>. A fresh clone with an unchanged lock file reinstalls nothing.
set -euo pipefail
name=${1:?usage: ensure-env.sh services|bot}
root=$(cd "$(dirname "$0")/.." && pwd)
lock="$root/requirements/$name.lock"
cache=${PARLEY_CACHE:-$HOME/.cache/parley}

. "$root/scripts/python.sh"
python=$(env_python "$name")
[ -n "${python:-}" ] || { echo "ensure-env: no suitable Python found for the $name env" >&2; exit 1; }

version=$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
hash=$( (cat "$lock"; echo "$version") | sha256sum | cut -c1-16)
target="$cache/envs/$name-$hash"

if [ ! -f "$target/.complete" ]; then
  echo "ensure-env: building the $name env (Python $version) in $target" >&2
  rm -rf "$target"
  mkdir -p "$cache/envs"
  "$python" -m venv "$target"
  "$target/bin/pip" install --quiet --upgrade "pip<25" >&2
  # --no-deps: the lock file is a complete freeze; nothing outside it may be resolved.
  PIP_CONSTRAINT= "$target/bin/pip" install --quiet --no-deps -r "$lock" >&2
  "$target/bin/pip" check >&2 || { echo "ensure-env: pip check failed for $name" >&2; exit 1; }
  touch "$target/.complete"
fi
mkdir -p "$root/.envs"
ln -sfn "$target" "$root/.envs/$name"
echo "$target"
