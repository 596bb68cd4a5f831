#!/usr/bin/env bash
# examples/strategy/table.sh DB — the strategy study's table: per campaign its final
# incumbent (architecture, attention parameters, Δ against its round's reference, the
# within-budget rule's input), the runs it trained; then mean ± sd per strategy and budget.
set -euo pipefail
db=${1:-runs/strategy.db}
cascade=${CASCADE:-./cascade}
q() { "$cascade" query --db "$db" --format csv --sql "$1" | tail -n +2 | sed 's/^/| /; s/,/ | /g; s/$/ |/'; }
finals="WITH f AS (SELECT v.campaign, v.incumbent, v.arch, v.params_attention, v.delta_ppl_pct, v.campaign_id,
  (SELECT count(*) FROM runs r WHERE r.campaign_id = v.campaign_id AND r.status = 'done'
     AND r.name NOT IN ('probe', 'standard')) AS runs_trained
  FROM v_rounds v WHERE v.final = 1 AND v.campaign LIKE 'strategy_%')"
echo "| campaign | final incumbent | architecture | attention params | Δ % | runs trained |"
echo "|---|---|---|---|---|---|"
q "$finals SELECT campaign, incumbent, arch, params_attention, printf('%+.2f', delta_ppl_pct), runs_trained FROM f
   ORDER BY campaign"
echo
echo "| strategy, budget | campaigns | attention params (mean ± sd) | Δ % (mean ± sd) | runs trained (mean) |"
echo "|---|---|---|---|---|"
q "$finals, g AS (SELECT replace(replace(substr(campaign, 10), '_s1', ''), '_s2', '') AS k, * FROM f),
   h AS (SELECT replace(k, '_s3', '') AS arm, * FROM g)
   SELECT arm, count(*), printf('%.0f ± %.0f', avg(params_attention),
     sqrt(sum((params_attention - (SELECT avg(params_attention) FROM h h2 WHERE h2.arm = h.arm)) *
              (params_attention - (SELECT avg(params_attention) FROM h h2 WHERE h2.arm = h.arm))) / max(count(*) - 1, 1))),
     printf('%+.2f ± %.2f', avg(delta_ppl_pct),
     sqrt(sum((delta_ppl_pct - (SELECT avg(delta_ppl_pct) FROM h h2 WHERE h2.arm = h.arm)) *
              (delta_ppl_pct - (SELECT avg(delta_ppl_pct) FROM h h2 WHERE h2.arm = h.arm))) / max(count(*) - 1, 1))),
     printf('%.1f', avg(runs_trained)) FROM h GROUP BY arm ORDER BY arm"
