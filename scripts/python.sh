# Sourced by ensure-env.sh and lock.sh: find the interpreter for an environment.
find_python() {
  local want=$1 candidate
  for candidate in "python$want" "$(pyenv root 2>/dev/null)/versions/$want"*/bin/python; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import venv' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

env_python() {  # env_python services|bot
  case "$1" in
    services) echo "${PARLEY_SERVICES_PYTHON_BIN:-$(find_python 3.11 || find_python 3.12)}" ;;
    bot)      echo "${PARLEY_BOT_PYTHON_BIN:-$(find_python 3.10)}" ;;
    *) echo "unknown env: $1" >&2; return 2 ;;
  esac
}
