#!/usr/bin/env bash
# Regenerate the NLU evaluation: for each config, train (cached by bot/train.py), run Rasa's own
# `rasa test nlu` on the held-out set bot/tests/nlu_holdout.yml, keep its reports under
# bench/nlu/<config>/, then write bench/nlu/REPORT.md.
#
#   bench/nlu/run.sh              # both configs
#   CONFIGS=fast bench/nlu/run.sh # one config
#   BOT_PYTHON=/path/to/python bench/nlu/run.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
py=${BOT_PYTHON:-$root/.envs/bot/bin/python}
export TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1 PYTHONPATH="$root"

for config in ${CONFIGS:-fast prod}; do
  model=$("$py" bot/train.py --config "$config" --out bot/models)
  out=$(mktemp -d)
  "$py" -m rasa test nlu --nlu bot/tests/nlu_holdout.yml --model "$model" --out "$out" \
    --successes >"$out/log.txt" 2>&1 || { tail -40 "$out/log.txt"; exit 1; }
  mkdir -p "bench/nlu/$config"
  cp "$out/intent_report.json" "$out/intent_errors.json" "$out/intent_successes.json" "bench/nlu/$config/"
  basename "$model" >"bench/nlu/$config/model.txt"
  rm -rf "$out"
done
"$py" bench/nlu/report.py
