#!/usr/bin/env bash
# examples/evidence/table.sh DB — the paired verdicts of the evidence campaigns (db view
# v_paired) as one Markdown table: per measure and retraining budget, each candidate
# against each control over its seeds: mean gap ± sd (%), wins, verdict.
set -euo pipefail
db=${1:-runs/evidence.db}
cascade=${CASCADE:-./cascade}
echo "| campaign | candidate | control | kind | seeds | gap % (mean ± sd) | wins | verdict |"
echo "|---|---|---|---|---|---|---|---|"
"$cascade" query --db "$db" --format csv --sql "SELECT campaign, candidate, control, control_kind, n,
  printf('%+.2f ± %.2f', gap_mean_pct, gap_sd_pct), wins || '/' || n, verdict FROM v_paired
  WHERE campaign LIKE 'evidence_%' ORDER BY campaign, candidate, control" |
  tail -n +2 | tr -d '\r' | sed 's/^/| /; s/,/ | /g; s/$/ |/'
