#!/usr/bin/env bash
# examples/evidence/base.sh — the probe and standard model the evidence and strategy studies
# share (search.baselines_from: runs/evidence_base): configs/evidence.json proposing nothing,
# recorded in runs/evidence.db. Run again, it says the campaign is finished.
# Run from the repository root; CASCADE=path runs another binary (default ./cascade).
set -euo pipefail
cd "$(dirname "$0")/../.."
cascade=${CASCADE:-./cascade}
mkdir -p runs examples/evidence/configs
sed -e 's/"name": "evidence_erank_b50"/"name": "evidence_base"/' -e 's/"low_k": \[1, 2\]/"low_k": []/' \
    -e 's/"fractions": \[0.5\]/"fractions": []/' -e 's/"qk_cuts": true,//' -e 's/"baselines_from": "runs\/evidence_base",//' \
    -e 's/"replicates": 3,/"replicates": 1,/' -e 's/"candidate_replicates": 3,/"candidate_replicates": 1,/' \
    configs/evidence.json > examples/evidence/configs/evidence_base.json
"$cascade" search --config examples/evidence/configs/evidence_base.json --db runs/evidence.db
