#!/usr/bin/env python3
"""study_table.py - the accuracy study's table and plots from its JSONL logs.

  study_table.py OUT MODEL DATA PRE_EPOCHS EPOCHS LR RATES LIMIT   markdown table
    (LR: the pre-training rate; RATES: the continuation rates, comma-separated)
  study_table.py --plot OUT                                           PNGs via gnuplot

Logs are OUT/run-<precision>-lr<lr>-seed<seed>.jsonl (one JSON object per
epoch, as `cl16 train --log` writes them)."""
import glob
import json
import math
import os
import re
import subprocess
import sys

ORDER = ["fp32", "fp16", "fp16-sr", "fp16-kahan", "mixed", "bf16", "bf16-sr"]
NAME = re.compile(r"run-(?P<prec>[a-z0-9-]+?)-lr(?P<lr>[0-9.e-]+)-seed(?P<seed>\d+)\.jsonl$")


def load(out):
    runs = {}
    for path in glob.glob(os.path.join(out, "run-*.jsonl")):
        m = NAME.search(os.path.basename(path))
        if not m:
            continue
        rows = [json.loads(line) for line in open(path) if line.strip()]
        if rows:
            runs.setdefault((m["prec"], m["lr"]), []).append((int(m["seed"]), rows))
    return runs


def mean_std(xs):
    if not xs:
        return float("nan"), float("nan")
    m = sum(xs) / len(xs)
    s = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, s


def table(out, model, data, pre, epochs, lr, rates, limit):
    runs = load(out)
    pre_rows = [json.loads(l) for l in open(os.path.join(out, "pretrain.jsonl"))] \
        if os.path.exists(os.path.join(out, "pretrain.jsonl")) else []
    sub = f", {limit} training images per epoch" if limit not in ("0", "") else ""
    print(f"{model} on {data}: pre-trained {pre} epochs in fp32 (lr {lr}, cosine){sub}; "
          f"test accuracy after pre-training "
          f"{100 * pre_rows[-1]['test_acc']:.2f} %." if pre_rows else "")
    print(f"Then {epochs} epoch(s) of SGD (momentum 0.9, batch 128, constant lr) from that "
          f"checkpoint in each precision; mean +- std over seeds.\n")
    for rate in rates.split(","):
        base = None
        print(f"### lr {rate}\n")
        print("| precision | seeds | test acc % (mean +- std) | vs fp32 (pp) | train loss, last epoch | "
              "s/epoch | peak device MB | stalled updates % | skipped steps |")
        print("|---|---|---|---|---|---|---|---|---|")
        for prec in ORDER:
            key = next((k for k in runs if k[0] == prec and float(k[1]) == float(rate)), None)
            if not key:
                continue
            rs = runs[key]
            accs = [100 * rows[-1]["test_acc"] for _, rows in rs]
            m, s = mean_std(accs)
            if prec == "fp32":
                base = m
            lm, ls = mean_std([rows[-1]["loss"] for _, rows in rs])
            secs = mean_std([sum(r["seconds"] for r in rows) / len(rows) for _, rows in rs])[0]
            peak = max(max(r["peak_device_bytes"] for r in rows) for _, rows in rs) / 1e6
            stall = mean_std([100 * rows[-1].get("stalled_fraction", 0) for _, rows in rs])[0]
            skipped = sum(sum(r.get("skipped_steps", 0) for r in rows) for _, rows in rs)
            delta = f"{m - base:+.2f}" if base is not None else "-"
            print(f"| {prec} | {len(rs)} | {m:.2f} +- {s:.2f} | {delta} | {lm:.4f} +- {ls:.4f} | {secs:.1f} | "
                  f"{peak:.1f} | {stall:.2f} | {skipped} |")
        print()


def plot(out):
    runs = load(out)
    for what, label in (("test_acc", "test accuracy"), ("loss", "training loss")):
        for rate in sorted({k[1] for k in runs}, key=float):
            dat = os.path.join(out, f"plot-{what}-lr{rate}.dat")
            series = []
            with open(dat, "w") as f:
                for prec in ORDER:
                    key = (prec, rate)
                    if key not in runs:
                        continue
                    rs = runs[key]
                    n = min(len(rows) for _, rows in rs)
                    f.write(f"# {prec}\n")
                    for e in range(n):
                        vals = [rows[e][what] * (100 if what == "test_acc" else 1) for _, rows in rs]
                        f.write(f"{e + 1} {sum(vals) / len(vals)}\n")
                    f.write("\n\n")
                    series.append(prec)
            png = os.path.join(out, f"{what}-lr{rate}.png")
            cmds = ["set terminal png size 800,500",
                    f"set output '{png}'",
                    f"set title '{label} per epoch, lr {rate} (mean over seeds)'",
                    "set xlabel 'epoch of the continuation'", "set xtics 1", f"set ylabel '{label}'",
                    "set key bottom right" if what == "test_acc" else "set key top right",
                    "plot " + ", ".join(f"'{dat}' index {i} with linespoints title '{p}'"
                                        for i, p in enumerate(series))]
            subprocess.run(["gnuplot"], input="\n".join(cmds), text=True, check=True)


if __name__ == "__main__":
    if sys.argv[1] == "--plot":
        plot(sys.argv[2])
    else:
        table(*sys.argv[1:9])
