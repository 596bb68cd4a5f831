#!/usr/bin/env bash
# examples/strategy/run.sh — measured against random search at equal cost: budget
# campaigns of configs/strategy.json on the demo's shape, strategy "measured" and
# "random", search.seed 1, 2, 3 (the random draws, the blind draws and the continuations'
# data order), at the default retraining budget (200 steps) and a small one (50), all from
# one shared probe (search.baselines_from: the evidence study's; trained first if absent).
# Then strategies.md: per campaign the final model, its attention parameters, its Δ, the
# runs it trained; and mean ± sd per strategy and budget (table.sh).
# Run from the repository root:  examples/strategy/run.sh   (about 40 min on 2 cores)
# CASCADE=path runs another binary (default ./cascade).
set -euo pipefail
cd "$(dirname "$0")/../.."
cascade=${CASCADE:-./cascade}
out=examples/strategy
db=runs/strategy.db
mkdir -p runs "$out/configs"
CASCADE="$cascade" examples/evidence/base.sh   # the shared probe (already finished: says so)
for budget in 200 50; do
  for strategy in measured random; do
    for seed in 1 2 3; do
      name="strategy_${strategy}_s${seed}_b${budget}"
      sed -e "s/\"name\": \"strategy_measured_s1_b200\"/\"name\": \"$name\"/" \
          -e "s/\"strategy\": \"measured\"/\"strategy\": \"$strategy\"/" \
          -e "s/\"seed\": 1,/\"seed\": $seed,/" \
          -e "s/\"inherit_steps\": 200/\"inherit_steps\": $budget/" \
          configs/strategy.json > "$out/configs/$name.json"
      "$cascade" search --config "$out/configs/$name.json" --db "$db"
    done
  done
done
CASCADE="$cascade" "$out/table.sh" "$db" > "$out/strategies.md"
