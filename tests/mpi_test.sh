#!/usr/bin/env bash
# tests/mpi_test.sh — campaigns across processes with MPI (issue 7), run by .ci/run after
# `make` and `make MPI=1`. A tiny campaign (L3 C16 H2 T16, 40 steps, 1 thread) on a corpus
# this script writes, trained by ./cascade in one process and by ./cascade-mpi under
# `mpirun -np 3` (2 workers) and `-np 2`: the results must be identical. Then the faults:
# a worker killed mid-run (the job stops; the same command again completes with the
# single-process results), a worker that cannot train a run (that run failed, the rest
# done), Ctrl-C and a SIGTERM to rank 0 alone (clean stops), a finished campaign and a
# bad config (no hang).
# Prints "ok NAME" or "FAIL NAME" per check and ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun --allow-run-as-root --oversubscribe)
SINGLE=./cascade
MPI=./cascade-mpi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
passed=0
failed=0

check() {   # check NAME CONDITION_STATUS [detail]
    if [ "$2" = 0 ]; then
        echo "ok   $1"; passed=$((passed + 1))
    else
        echo "FAIL $1"; failed=$((failed + 1))
        [ $# -gt 2 ] && printf '%s\n' "$3" | sed 's/^/    /' | head -40
    fi
}

# ~100 KB of pseudo-English from a fixed generator (Park–Miller, exact in awk's doubles)
awk 'BEGIN { split("the a jury said county election was of in and city report that it found money", w, " ");
             r = 42
             for (s = 0; s < 2500; s++) {
                 r = (r * 16807) % 2147483647; n = 4 + r % 8; line = ""
                 for (i = 0; i < n; i++) { r = (r * 16807) % 2147483647; line = line (i ? " " : "") w[1 + (i * 5 + r % 6) % 16] }
                 print line " ."
             } }' > "$TMP/corpus.txt"

# config NAME STEPS RUNS_DIR: the campaign config (the same name everywhere, so the runs
# of every database compare by name)
config() {
    cat > "$TMP/$1.json" <<EOF
{"name": "mpi", "data": {"path": "$TMP/corpus.txt", "val_fraction": 0.1},
 "model": {"n_layer": 3, "n_embd": 16, "n_head": 2, "seq_len": 16},
 "train": {"steps": $2, "batch_size": 4, "lr": 5e-3, "warmup_steps": 4,
           "log_every": 5, "eval_batches": 4, "checkpoint_every": 10, "threads": 1},
 "search": {"linear_threshold": 50, "max_prefix": 2, "multipliers": [0.5], "measure": "erank",
            "runs_dir": "$TMP/$3"}}
EOF
    echo "$TMP/$1.json"
}

RESULTS="SELECT run, role, status, arch, params_attention, val_loss, perplexity, delta_ppl_pct, pareto FROM v_results ORDER BY seq"
COUNTS="SELECT (SELECT count(*) FROM steps), (SELECT count(*) FROM head_measures), (SELECT count(*) FROM runs), (SELECT status FROM campaigns)"
query() { $SINGLE query --db "$1" --format csv --sql "$2" 2>&1 | tr -d '\r'; }   # CSV lines end in CRLF
search_mpi() {   # search_mpi NP CONFIG DB [ENV=VALUE...]: output in $TMP/out, returns the exit status
    local np=$1 cfg=$2 db=$3
    shift 3
    env "$@" timeout 300 "${MPIRUN[@]}" -np "$np" $MPI search --config "$cfg" --db "$db" > "$TMP/out" 2>&1
}

# the reference: one process
cfg=$(config single 40 runs_single)
$SINGLE search --config "$cfg" --db "$TMP/single.db" > "$TMP/out" 2>&1
check single_process_campaign $? "$(cat "$TMP/out")"
want=$(query "$TMP/single.db" "$RESULTS")
want_counts=$(query "$TMP/single.db" "$COUNTS")

# 1. the same campaign over 2 workers, and over 1
for np in 3 2; do
    cfg=$(config np$np 40 runs_np$np)
    search_mpi $np "$cfg" "$TMP/np$np.db"
    rc=$?
    got=$(query "$TMP/np$np.db" "$RESULTS")
    [ $rc = 0 ] && [ "$got" = "$want" ]
    check "np${np}_results_identical_to_one_process" $? "exit $rc; $(tail -5 "$TMP/out")
got:
$got
want:
$want"
    [ "$(query "$TMP/np$np.db" "$COUNTS")" = "$want_counts" ]
    check "np${np}_steps_and_measures_recorded_once" $? "$(query "$TMP/np$np.db" "$COUNTS") vs $want_counts"
done

# a finished campaign under mpirun: said so, every rank exits
search_mpi 3 "$TMP/np3.json" "$TMP/np3.db"
rc=$?
[ $rc = 0 ] && grep -q "is finished" "$TMP/out"
check finished_campaign_exits_cleanly $? "exit $rc: $(cat "$TMP/out")"

# a bad config: one error line (rank 0's), every rank exits
search_mpi 3 "$TMP/missing.json" "$TMP/bad.db"
rc=$?
[ $rc != 0 ] && [ "$(grep -c "cascade search:.*missing.json" "$TMP/out")" = 1 ]
check bad_config_one_error_no_hang $? "exit $rc: $(cat "$TMP/out")"

# 2. a worker dies in the middle of lin1 (after its step-20 checkpoint): the job stops;
# the same command again completes and equals the single-process campaign
cfg=$(config death 40 runs_death)
search_mpi 3 "$cfg" "$TMP/death.db" CASCADE_MPI_FAIL_RUN=lin1@20
rc=$?
lin1=$(query "$TMP/death.db" "SELECT status FROM runs WHERE name = 'lin1'")
[ $rc != 0 ] && ! grep -q "lin1 .*done" <<< "$lin1" && [ -f "$TMP/runs_death/mpi/lin1.safetensors" ]
check worker_death_stops_the_job $? "exit $rc; lin1: $lin1; $(tail -5 "$TMP/out")"
search_mpi 3 "$cfg" "$TMP/death.db"
rc=$?
got=$(query "$TMP/death.db" "$RESULTS")
[ $rc = 0 ] && [ "$got" = "$want" ] && [ "$(query "$TMP/death.db" "$COUNTS")" = "$want_counts" ]
check worker_death_then_resume_identical $? "exit $rc; $(tail -5 "$TMP/out")
got:
$got
want:
$want"

# 3. a worker cannot train a run: that run is failed with the worker's message, the
# campaign goes on and the other runs equal the single-process ones
cfg=$(config error 40 runs_error)
search_mpi 3 "$cfg" "$TMP/error.db" CASCADE_MPI_ERROR_RUN=cut_m0.5
rc=$?
status=$(query "$TMP/error.db" "SELECT status, error FROM runs WHERE name = 'cut_m0.5'")
others=$(query "$TMP/error.db" "SELECT count(*) FROM runs WHERE name != 'cut_m0.5' AND status = 'done'")
# the other 11: probe, standard, lin1, lin2, std_lin1, std_lin2, lin2_cut_m0.5, the blind
# controls linlast1, linlast2, and the replicates probe_r2, probe_r3
[ $rc = 0 ] && grep -q "^failed,rank [12] (.*CASCADE_MPI_ERROR_RUN" <<< "$status" && grep -qx 11 <<< "$(tail -1 <<< "$others")"
check worker_error_marks_the_run_failed $? "exit $rc; $status; $others; $(tail -5 "$TMP/out")"
same="SELECT run, role, status, arch, params_attention, val_loss, perplexity FROM v_results WHERE run != 'cut_m0.5' ORDER BY seq"
[ "$(query "$TMP/error.db" "$same")" = "$(query "$TMP/single.db" "$same")" ]
check worker_error_other_runs_identical $?

# 4. Ctrl-C (SIGINT to mpirun) during long runs: every rank stops, the campaign is "stopped"
cfg=$(config stop 3000 runs_stop)
"${MPIRUN[@]}" -np 3 $MPI search --config "$cfg" --db "$TMP/stop.db" > "$TMP/out" 2>&1 &
pid=$!
sleep 3
kill -INT $pid
for i in $(seq 1 300); do kill -0 $pid 2> /dev/null || break; sleep 0.1; done
if kill -0 $pid 2> /dev/null; then kill -KILL $pid; fi
wait $pid
rc=$?
campaign=$(query "$TMP/stop.db" "SELECT status FROM campaigns")
[ $rc != 0 ] && grep -q "stopped after" "$TMP/out" && grep -qx stopped <<< "$(tail -1 <<< "$campaign")" &&
    [ -f "$TMP/runs_stop/mpi/probe.safetensors" ]
check sigint_stops_every_rank_cleanly $? "exit $rc; campaign: $campaign; $(tail -5 "$TMP/out")"

# 5. SIGTERM to rank 0 alone: the workers learn it from the ACKs of their progress reports,
# stop their runs, and every rank exits (rank 0 with 130)
cfg=$(config stop0 3000 runs_stop0)
"${MPIRUN[@]}" -np 3 $MPI search --config "$cfg" --db "$TMP/stop0.db" > "$TMP/out" 2>&1 &
pid=$!
sleep 3
rank0=
for child in $(pgrep -P $pid); do
    tr '\0' '\n' < /proc/$child/environ 2> /dev/null | grep -qx OMPI_COMM_WORLD_RANK=0 && rank0=$child
done
[ -n "$rank0" ] && kill -TERM $rank0
for i in $(seq 1 300); do kill -0 $pid 2> /dev/null || break; sleep 0.1; done
if kill -0 $pid 2> /dev/null; then kill -KILL $pid; fi
wait $pid
rc=$?
campaign=$(query "$TMP/stop0.db" "SELECT status FROM campaigns")
[ -n "$rank0" ] && [ $rc != 0 ] && grep -q "stopped after" "$TMP/out" && grep -qx stopped <<< "$(tail -1 <<< "$campaign")" &&
    ! grep -q "signal" "$TMP/out"
check sigterm_to_rank0_stops_the_workers $? "rank 0 pid '$rank0'; exit $rc; campaign: $campaign; $(tail -8 "$TMP/out")"

echo "$passed passed, $failed failed"
[ $failed = 0 ]
