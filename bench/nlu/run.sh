#!/usr/bin/env bash
# Regenerate the NLU evaluation: for each config, train (cached by bot/train.py), run Rasa's own
# `rasa test nlu` on the held-out sets bot/tests/nlu_holdout.yml and nlu_blind.yml, keep its reports under
# bench/nlu/<config>/ (and the second, blind set's under bench/nlu/<config>/blind/), then write
# bench/nlu/REPORT.md.
#
#   bench/nlu/run.sh              # both configs
#   CONFIGS=fast bench/nlu/run.sh # one config
#   BOT_PYTHON=/path/to/python bench/nlu/run.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
py=${BOT_PYTHON:-$root/.envs/bot/bin/python}
export TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1 PYTHONPATH="$root"

export RASA_TELEMETRY_ENABLED=false

evaluate() {  # evaluate MODEL TESTSET DEST
  local out
  out=$(mktemp -d)
  "$py" -m rasa test nlu --nlu "$2" --model "$1" --out "$out" --successes >"$out/log.txt" 2>&1 \
    || { tail -40 "$out/log.txt"; exit 1; }
  mkdir -p "$3"
  cp "$out/intent_report.json" "$out/intent_errors.json" "$out/intent_successes.json" "$3/"
  rm -rf "$out"
}

for config in ${CONFIGS:-fast prod}; do
  model=$("$py" bot/train.py --config "$config" --out bot/models)
  evaluate "$model" bot/tests/nlu_holdout.yml "bench/nlu/$config"
  evaluate "$model" bot/tests/nlu_blind.yml "bench/nlu/$config/blind"
  basename "$model" >"bench/nlu/$config/model.txt"
done
"$py" bench/nlu/report.py
