#!/bin/sh
# Trains and measures probes for two studies of issue 12 (docs/studies.md "Recipe and measure
# study", examples/cascade-scale/README.md). Each CONFIG is a training config (the demo's
# probe recipe, one thing varied; threads 1); for configs/DIR/NAME.json it writes, in
# runs/DIR/:
#   NAME.safetensors        the trained probe
#   NAME.train.txt          the training log (final validation perplexity on its last line)
#   NAME.analyze.txt        cascade analyze: weight level, and realised on the first
#                           validation window of data/brown.txt
#   NAME.minus_init.txt     cascade analyze --minus-init (S - S0)
# Usage: examples/cascade-scale/run.sh [CONFIG ...]
#   no CONFIG: every arm of both studies, as two 1-thread streams side by side (1h14m
#   as we ran it on a 2-core Intel Xeon shared with two campaigns, most of it the C256
#   2x-steps arm, which diverged and crawled on subnormal floats, since flushed).
#   CASCADE names the binary (default ./cascade).
set -eu
cd "$(dirname "$0")/../.."
bin=${CASCADE:-./cascade}

run_arm() {
    cfg=$1
    name=$(basename "$cfg" .json)
    out=runs/$(basename "$(dirname "$cfg")")
    mkdir -p "$out"
    "$bin" train --config "$cfg" --out "$out/$name.safetensors" > "$out/$name.train.txt" 2>&1
    "$bin" analyze "$out/$name.safetensors" --data data/brown.txt > "$out/$name.analyze.txt"
    "$bin" analyze "$out/$name.safetensors" --minus-init > "$out/$name.minus_init.txt"
    echo "$cfg: $(tail -n 1 "$out/$name.train.txt")"
}

if [ $# -gt 0 ]; then
    for cfg in "$@"; do run_arm "$cfg"; done
    exit 0
fi
s=configs/scale
r=configs/study
( for c in $s/c256_l6_s2400 $r/probe_s0.1_x1 $r/probe_s0_x32 $r/probe_s0.1_x32_wd0.1; do
      run_arm "$c.json"; done ) &
a=$!
( for c in $s/c256_l6_s1200 $s/c128_l6_s4800 $s/c128_l12_s1200 $s/c128_l6_s1200 $r/probe_s0.01_x32 \
           $r/probe_s0.001_x32 $r/probe_s0.1_x32_wd0.1_decay_s; do
      run_arm "$c.json"; done ) &
b=$!
wait $a
wait $b
