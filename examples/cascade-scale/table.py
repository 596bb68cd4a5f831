#!/usr/bin/env python3
"""Prints the Markdown rows of the scale and recipe tables (examples/cascade-scale/README.md,
docs/studies.md "Recipe and measure study") from what examples/cascade-scale/run.sh wrote:
runs/DIR/NAME.{train,analyze,minus_init}.txt. Usage: table.py runs/scale/NAME ...
Columns: perplexity | weight routing erank by layer (Spearman rho with depth) | weight PR |
weight k90 | erank of S - S0 (rho) | realised erank (rho) | realised PR | realised k90."""
import re
import sys


def levels(path):
    """{'weight': [(erank, pr, k90)...], 'realised': [...]}, {'weight': rho, 'realised': rho}"""
    rows, rho, level = {}, {}, None
    for line in open(path):
        if line.startswith('weight level'):
            level = 'weight'
        elif line.startswith('realised on'):
            level = 'realised'
        elif line.startswith('routing effective rank') or not line.strip():
            if line.startswith('routing'):
                level = None
        m = re.match(r'\s+(\d+) (sd|softmax|linear)\s+\d+\s+\d+ \|\s+([-\d.]+)\s+([\d.]+) \[.*\]\s+([\d.]+)\s+([\d.]+)', line)
        if m and level:
            rows.setdefault(level, []).append((float(m.group(4)), float(m.group(5)), float(m.group(6))))
        m = re.match(r'cascade \(Spearman.*\): weight ([-+\d.]+)(?:, realised ([-+\d.]+))?', line)
        if m:
            rho['weight'] = float(m.group(1))
            if m.group(2):
                rho['realised'] = float(m.group(2))
    return rows, rho


def fmt(vals, k):
    return ' '.join(f'{v[k]:.1f}' for v in vals)


for base in sys.argv[1:]:
    name = base.rsplit('/', 1)[-1]
    last = open(base + '.train.txt').read().strip().splitlines()[-1]
    ppl = re.search(r'perplexity ([\d.]+)', last).group(1)
    a, arho = levels(base + '.analyze.txt')
    mi, mrho = levels(base + '.minus_init.txt')
    w, r = a['weight'], a['realised']
    print(f"| {name} | {ppl} | {fmt(w, 0)} ({arho['weight']:+.2f}) | {fmt(w, 1)} | {fmt(w, 2)} | "
          f"{fmt(mi['weight'], 0)} ({mrho['weight']:+.2f}) | {fmt(r, 0)} ({arho['realised']:+.2f}) | "
          f"{fmt(r, 1)} | {fmt(r, 2)} |")
