#!/usr/bin/env bash
# examples/evidence/deep.sh — the evidence campaign's deeper shape (issue 19: "one deeper
# shape, L 8-12"): configs/evidence.json with 8 layers instead of 6, its own shared probe
# (evidence_deep_base), then sensitivity and weight erank at 200 retraining steps, the
# routing-only twins off: low{1,2} against high{k} and lowblind{k}, cut_f0.5 against
# inverse_f0.5, uniform_f0.5 and reversed_f0.5, on 3 paired seeds. Reports and the paired
# table (deep_table.md) here. Run from the repository root: examples/evidence/deep.sh
# (about 17 min on 2 idle cores). CASCADE=path runs another binary (default ./cascade).
set -euo pipefail
cd "$(dirname "$0")/../.."
cascade=${CASCADE:-./cascade}
out=examples/evidence
db=runs/evidence_deep.db
mkdir -p runs "$out/configs"
deep() {   # name, then sed expressions on top of the 8-layer config
  local name=$1; shift
  sed -e "s/\"name\": \"evidence_erank_b50\"/\"name\": \"$name\"/" -e 's/"n_layer": 6/"n_layer": 8/' \
      -e 's/"qk_cuts": true,//' -e 's/"inherit_steps": 50/"inherit_steps": 200/' \
      -e 's/"baselines_from": "runs\/evidence_base"/"baselines_from": "runs\/evidence_deep_base"/' "$@" \
      configs/evidence.json > "$out/configs/$name.json"
}
deep evidence_deep_base -e 's/"low_k": \[1, 2\]/"low_k": []/' -e 's/"fractions": \[0.5\]/"fractions": []/' \
     -e 's/"baselines_from": "runs\/evidence_deep_base",//' -e 's/"replicates": 3,/"replicates": 1,/' \
     -e 's/"candidate_replicates": 3,/"candidate_replicates": 1,/'
"$cascade" search --config "$out/configs/evidence_deep_base.json" --db "$db"
for measure in sensitivity erank; do
  name="evidence_deep_${measure}_b200"
  deep "$name" -e "s/\"measure\": \"erank\"/\"measure\": \"$measure\"/"
  "$cascade" search --config "$out/configs/$name.json" --db "$db"
  "$cascade" report --db "$db" --campaign "$name" --out "$out/$name.md"
done
CASCADE="$cascade" "$out/table.sh" "$db" > "$out/deep_table.md"
