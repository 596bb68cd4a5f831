#!/usr/bin/env bash
# examples/strategy/table.sh DB — the strategy study's table: per campaign its final
# incumbent (architecture, attention parameters, Δ against the mean of its round's
# reference and replicates: what the within-budget rule reads) and the runs it trained;
# then mean ± sd per strategy and retraining budget. Each row is built in SQL as one
# Markdown line (one CSV column, its quotes taken off).
set -euo pipefail
db=${1:-runs/strategy.db}
cascade=${CASCADE:-./cascade}
rows() { "$cascade" query --db "$db" --format csv --sql "$1" | tail -n +2 | tr -d '\r' | sed 's/^"//; s/"$//; s/""/"/g'; }
finals="WITH f AS (SELECT v.campaign, v.incumbent, replace(v.arch, '|', '\\|') AS arch, v.params_attention,
  v.delta_ppl_pct, (SELECT count(*) FROM runs r WHERE r.campaign_id = v.campaign_id AND r.status = 'done'
     AND r.name NOT IN ('probe', 'standard')) AS runs_trained,
  substr(v.campaign, 10, instr(substr(v.campaign, 10), '_') - 1) || ', ' ||
  substr(v.campaign, instr(v.campaign, '_b') + 2) || ' steps' AS arm
  FROM v_rounds v WHERE v.final = 1 AND v.campaign LIKE 'strategy_%')"
echo "| campaign | final incumbent | architecture | attention params | Δ % | runs trained |"
echo "|---|---|---|---:|---:|---:|"
rows "$finals SELECT '| ' || campaign || ' | ' || incumbent || ' | ' || arch || ' | ' || params_attention || ' | ' ||
  printf('%+.2f', delta_ppl_pct) || ' | ' || runs_trained || ' |' AS row FROM f ORDER BY campaign"
echo
echo "| strategy, retraining | campaigns | attention params (mean ± sd) | Δ % (mean ± sd) | runs trained (mean) |"
echo "|---|---:|---:|---:|---:|"
rows "$finals, m AS (SELECT arm, avg(params_attention) AS p, avg(delta_ppl_pct) AS d FROM f GROUP BY arm)
  SELECT '| ' || f.arm || ' | ' || count(*) || ' | ' ||
    printf('%.0f ± %.0f', m.p, CASE WHEN count(*) > 1 THEN sqrt(sum((f.params_attention - m.p) * (f.params_attention - m.p)) / (count(*) - 1)) END) || ' | ' ||
    printf('%+.2f ± %.2f', m.d, CASE WHEN count(*) > 1 THEN sqrt(sum((f.delta_ppl_pct - m.d) * (f.delta_ppl_pct - m.d)) / (count(*) - 1)) END) || ' | ' ||
    printf('%.1f', avg(f.runs_trained)) || ' |' AS row
  FROM f JOIN m ON m.arm = f.arm GROUP BY f.arm ORDER BY f.arm"
