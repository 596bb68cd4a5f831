#!/usr/bin/env bash
# examples/evidence/run.sh — the evidence campaign of "does measuring help?": the demo's
# shape, one shared probe, then for each measure (weight erank, realised erank over 8
# windows, sensitivity) and each retraining budget (0, 50, 200 steps) one campaign of
# configs/evidence.json: low{1,2} against high{k} (opposite) and lowblind{k} (blind),
# cut_f0.5 against inverse_f0.5 (opposite) and uniform_f0.5 / reversed_f0.5 (blind), and
# the routing-only twins of those four (search.qk_cuts: cut_f0.5_qk, ..., the dims as
# query/key widths, every value width kept), every one on 3 paired seeds. Then a report
# per campaign and the paired table (table.sh).
# Run from the repository root:  examples/evidence/run.sh
# CASCADE=path runs another binary (default ./cascade).
set -euo pipefail
cd "$(dirname "$0")/../.."
cascade=${CASCADE:-./cascade}
out=examples/evidence
db=runs/evidence.db
mkdir -p runs "$out/configs"
# the shared probe and standard model: a campaign that proposes nothing else
CASCADE="$cascade" "$out/base.sh"
for measure in erank realised_erank sensitivity; do
  for budget in 0 50 200; do
    name="evidence_${measure}_b${budget}"
    sed -e "s/\"name\": \"evidence_erank_b50\"/\"name\": \"$name\"/" \
        -e "s/\"measure\": \"erank\"/\"measure\": \"$measure\"/" \
        -e "s/\"inherit_steps\": 50/\"inherit_steps\": $budget/" \
        configs/evidence.json > "$out/configs/$name.json"
    "$cascade" search --config "$out/configs/$name.json" --db "$db"
    "$cascade" report --db "$db" --campaign "$name" --out "$out/$name.md"
  done
done
CASCADE="$cascade" "$out/table.sh" "$db" > "$out/table.md"
