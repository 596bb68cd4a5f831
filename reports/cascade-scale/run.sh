#!/bin/sh
# The scale study of issue 12: does a rising routing cascade appear with width, depth or
# training length? Trains the demo's probe recipe (S-D, no LayerNorm, embeddings x32,
# sigma_s 0.1, no weight decay, batch 8 x 128 tokens, 1 thread per run) at each shape of
# configs/scale/, then measures it with `cascade analyze` (weight level, realised on the
# first validation window, and S - S0). Outputs, per arm NAME, in runs/scale/:
#   NAME.safetensors        the trained probe
#   NAME.train.txt          the training log (final validation perplexity on its last line)
#   NAME.analyze.txt        cascade analyze, weight and realised level
#   NAME.minus_init.txt     cascade analyze --minus-init (S - S0)
# Usage: reports/cascade-scale/run.sh [ARM ...]   (no ARM: all six, as two 1-thread streams
# side by side; about 1 h on 2 idle cores of an Intel Xeon of 2026)
set -eu
cd "$(dirname "$0")/../.."
out=runs/scale
mkdir -p "$out"

run_arm() {
    name=$1
    ./cascade train --config "configs/scale/$name.json" --out "$out/$name.safetensors" \
        > "$out/$name.train.txt" 2>&1
    ./cascade analyze "$out/$name.safetensors" --data data/brown.txt > "$out/$name.analyze.txt"
    ./cascade analyze "$out/$name.safetensors" --minus-init > "$out/$name.minus_init.txt"
    echo "$name: $(tail -n 1 "$out/$name.train.txt")"
}

if [ $# -gt 0 ]; then
    for arm in "$@"; do run_arm "$arm"; done
    exit 0
fi
( run_arm c128_l6_s1200; run_arm c128_l6_s4800; run_arm c128_l12_s1200; run_arm c128_l6_s2400 ) &
a=$!
( run_arm c256_l6_s1200; run_arm c256_l6_s2400 ) &
b=$!
wait $a
wait $b
