#!/usr/bin/env bash
# lock.sh services|bot: resolve requirements/<name>.in in a scratch venv and freeze it to <name>.lock.
set -euo pipefail
name=${1:?usage: lock.sh services|bot}
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/python.sh"
python=$(env_python "$name")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$python" -m venv "$scratch/venv"
"$scratch/venv/bin/pip" install --quiet -r "$root/requirements/$name.in"
"$scratch/venv/bin/pip" check
"$scratch/venv/bin/pip" freeze --all --exclude-editable | grep -v "^pip==" > "$root/requirements/$name.lock"
echo "wrote requirements/$name.lock"
