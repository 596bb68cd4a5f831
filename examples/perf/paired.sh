#!/usr/bin/env bash
# examples/perf/paired.sh A B [ROUNDS] [STEPS] — paired timing of two commits' trainers.
# Builds trainer/ at commits A and B (git worktrees under a temporary folder, the
# Makefile's flags), links step_pair.c against each, then runs the two programs
# alternately ROUNDS times (default 10) with STEPS timed steps (default 40) and prints
# each round's median step times and the ratios B/A, then their geometric means. Pairs
# taken a few seconds apart see the same neighbours, which a single run of each does not.
set -euo pipefail
A=${1:?usage: paired.sh A B [ROUNDS] [STEPS]}; B=${2:?usage: paired.sh A B [ROUNDS] [STEPS]}
ROUNDS=${3:-10}; STEPS=${4:-40}
ROOT=$(git rev-parse --show-toplevel)
WORK=$(mktemp -d)
trap 'git -C "$ROOT" worktree remove --force "$WORK/a" >/dev/null 2>&1 || true;
      git -C "$ROOT" worktree remove --force "$WORK/b" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
BLASDIR=${BLASDIR:-/usr/lib/x86_64-linux-gnu/openblas-openmp}
for side in a b; do
  commit=$([ $side = a ] && echo "$A" || echo "$B")
  git -C "$ROOT" worktree add -q --detach "$WORK/$side" "$commit"
  make -C "$WORK/$side" -j2 >/dev/null
  cc -O2 ${CFLAGS:--march=native} -fopenmp -I"$WORK/$side" -I"$WORK/$side/build/rel" \
     "$ROOT/examples/perf/step_pair.c" "$WORK/$side"/build/rel/trainer/*.o -o "$WORK/step_$side" \
     -L"$BLASDIR" -Wl,-rpath,"$BLASDIR" -lopenblas -lcjson -lm
done
# the core cascade itself trains with (it re-runs itself where OpenBLAS picks a weak one);
# CASCADE_KEEP_BLAS_CORE=1 keeps OPENBLAS_CORETYPE as given, as for cascade
if [ -z "${CASCADE_KEEP_BLAS_CORE:-}" ]; then
  OPENBLAS_CORETYPE=$("$WORK/b/cascade" info 2>/dev/null | sed -n 's/^BLAS core: \([A-Za-z0-9]*\).*/\1/p' | head -1)
  export OPENBLAS_CORETYPE
fi
echo "A $A, B $B; OpenBLAS core ${OPENBLAS_CORETYPE:-as OpenBLAS picks}; $ROUNDS rounds of $STEPS steps"
echo "round  A demo ms  A tiny ms  B demo ms  B tiny ms  demo B/A  tiny B/A"
for r in $(seq "$ROUNDS"); do
  a=$("$WORK/step_a" "$STEPS" | awk '{print $3}' | tr '\n' ' ')
  b=$("$WORK/step_b" "$STEPS" | awk '{print $3}' | tr '\n' ' ')
  echo "$r $a $b"
done | awk '{ rd = $4 / $2; rt = $5 / $3; sd += log(rd); st += log(rt); n++;
              printf "%5d %10.3f %10.3f %10.3f %10.3f %9.3f %9.3f\n", $1, $2, $3, $4, $5, rd, rt }
            END { printf "geometric mean of B/A: demo %.3f, tiny %.3f\n", exp(sd / n), exp(st / n) }'
