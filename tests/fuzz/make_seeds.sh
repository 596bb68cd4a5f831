#!/usr/bin/env bash
# tests/fuzz/make_seeds.sh — regenerates the seed corpora of the fuzz harnesses
# (tests/fuzz/corpus/<harness>/) from the example configs and a real ./cascade.
#
# Run from the repository root after `make`: tests/fuzz/make_seeds.sh
# It writes small valid inputs only: two checkpoints of very small models written by
# `cascade train --steps 1` (n_layer 1-2, n_embd 8, n_head 2, seq_len 8, vocab 32), an
# llm.c token file and a byte file, the training and campaign configs of configs/, a
# hand-made safetensors file with F16/BF16/I32 tensors, and a few Brown-format lines.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x ./cascade ] || { echo "make_seeds.sh: build ./cascade first (make)" >&2; exit 2; }
C=tests/fuzz/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$C"
mkdir -p "$C"/{safetensors,checkpoint,trainer_config,campaign_config,data_load,brown}

# le32 N: N as 4 little-endian bytes (printf escapes).
le32() { printf "\\\\x%02x\\\\x%02x\\\\x%02x\\\\x%02x" $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
le16() { printf "\\\\x%02x\\\\x%02x" $(($1 & 255)) $(($1 >> 8 & 255)); }

# An llm.c token file: magic 20240520, version 1, count, 253 zero ints, uint16 tokens < 32.
n_tok=400
{
  printf "$(le32 20240520)$(le32 1)$(le32 $n_tok)"
  head -c $((253 * 4)) /dev/zero
  for ((i = 0; i < n_tok; i++)); do printf "$(le16 $(((i * 7 + i / 5) % 32)))"; done
} > "$tmp/tokens.bin"
cp "$tmp/tokens.bin" "$C/data_load/llmc_tokens.bin"
printf 'The Fulton County Grand Jury said Friday an investigation of recent primary election produced no evidence.\n' \
  > "$C/data_load/bytes.txt"
printf '\x01' > "$C/data_load/one_byte.bin"

# Two very small models trained one step on the token file: softmax with LayerNorm, and
# a linear first layer followed by an S-D layer without LayerNorm.
model() { # n_layer layernorm attention linear_prefix
  cat <<JSON
{
  "data": {"path": "$tmp/tokens.bin", "val_fraction": 0.1},
  "model": {"vocab_size": 32, "n_layer": $1, "n_embd": 8, "n_head": 2, "seq_len": 8,
            "layernorm": $2, "attention": "$3", "head_dim": 4, "linear_prefix": $4},
  "train": {"batch_size": 2, "steps": 1, "warmup_steps": 1, "eval_every": 0, "eval_batches": 1,
            "log_every": 1, "checkpoint_every": 0, "threads": 1, "seed": 7}
}
JSON
}
model 1 true softmax 0 > "$tmp/softmax_ln.json"
model 2 false sd 1 > "$tmp/hybrid.json"
for m in softmax_ln hybrid; do
  ./cascade train --config "$tmp/$m.json" --steps 1 --out "$tmp/$m.safetensors" > /dev/null
  cp "$tmp/$m.safetensors" "$C/checkpoint/$m.safetensors"
  cp "$tmp/$m.safetensors" "$C/safetensors/$m.safetensors"
  sed "s|$tmp/tokens.bin|data/tokens.bin|" "$tmp/$m.json" > "$C/trainer_config/fuzz_$m.json"
done

# A safetensors file with every float dtype st_read_f32 converts, an integer tensor it
# refuses, a 0-d tensor and metadata.
hdr='{"__metadata__":{"format":"test","note":"x"},"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[4,8]},"c":{"dtype":"F32","shape":[],"data_offsets":[8,12]},"d":{"dtype":"I32","shape":[1],"data_offsets":[12,16]},"e":{"dtype":"F32","shape":[0,3],"data_offsets":[16,16]}}'
{
  printf "$(le32 ${#hdr})$(le32 0)"
  printf '%s' "$hdr"
  printf '\x00\x3c\x00\xc0\x80\x3f\x00\x40\x00\x00\x80\x3f\x07\x00\x00\x00'
} > "$C/safetensors/dtypes.safetensors"

# Configs: every training config of configs/, every campaign config, and a campaign
# config that sets every search key.
for f in configs/*.json; do
  if grep -q '"search"' "$f"; then cp "$f" "$C/campaign_config/"; else cp "$f" "$C/trainer_config/"; fi
done
cat > "$C/campaign_config/every_key.json" <<'JSON'
{
  "name": "fuzz.seed-1",
  "data": {"path": "data/tokens.bin", "val_fraction": 0.1},
  "model": {"vocab_size": 32, "n_layer": 2, "n_embd": 8, "n_head": 2, "seq_len": 8},
  "train": {"batch_size": 2, "steps": 4, "seed": 3, "eval_batches": 1},
  "search": {"linear_threshold": 2.5, "max_prefix": 2, "multipliers": [1, 1.5, 2],
             "head_dim_step": 2, "head_dim_min": 2, "control": false, "combine": true,
             "retrain": "scratch", "inherit_steps": 2, "analysis_tokens": 4,
             "runs_dir": "runs", "probe_embed_scale": 16}
}
JSON

# Brown-format text: tagged words, tab-led lines, a blank line, a word without a tag.
# The brown harness splits its input at NUL bytes into up to four corpus files.
printf '\n\n\tThe/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd Friday/nr an/at investigation/nn of/in\n\n\tAtlanta'"'"'s/np$ recent/jj primary/nn election/nn produced/vbd ``/`` no/at evidence/nn '"''"'/'"''"' that/cs any/dti irregularities/nns took/vbd place/nn ./.\n' \
  > "$C/brown/one_file"
printf '\tIt/pps said/vbd ./.\n\x00\tA/at b/c/nn 1/2/cd\n   \n/nn only/rb\n\x00\n\x00\tLast/ap file/nn\r\n' > "$C/brown/three_files"
printf 'word/tag' > "$C/brown/no_newline"

du -sh "$C"
