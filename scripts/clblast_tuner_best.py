#!/usr/bin/python3
"""clblast_tuner_best.py - picks the fastest verified Xgemm configuration that
CLBlast's tuner (clblast_tuner_xgemm) measured and writes it as the small text
file cl16 reads (`cl16 tune clblast-import FILE`; format in docs/benchmarks.md).
Used by scripts/tune-clblast.sh.

    clblast_tuner_best.py DIR OUT

DIR holds the tuner's output: the JSON file of every phase it finished
(clblast_xgemm_<phase>_<precision>.json) and its console log, tuner.log, which
also has the rows of a phase that a time limit cut short. A row counts only
when the tuner checked its result against the reference ("results match").
Exit status 1 with a message when nothing usable was measured.
"""
import glob
import json
import os
import re
import sys

# What CLBlast's Xgemm kernel takes (CLBlastOverrideParameters wants all of them);
# the tuner's own PRECISION entry is not one of them.
XGEMM = ["GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB", "NDIMC", "NWG",
         "SA", "SB", "STRM", "STRN", "VWM", "VWN"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def from_json(path):
    """(ms, params, device, precision, m, n, k) of every result in one phase file."""
    with open(path) as f:
        d = json.load(f)
    dims = tuple(int(d.get("arg_" + x, 0)) for x in "mnk")
    for r in d.get("results", []):
        if r.get("kernel") != "Xgemm":
            continue
        yield (float(r["time"]), {k: int(v) for k, v in r["parameters"].items()},
               d.get("device", ""), str(d.get("precision", "")), dims)


def from_log(path):
    """The same from the console log: the header names the parameters of the
    rows below it, each row ends with time, GFLOPS and status."""
    names, device, prec, dims = [], "", "", {}
    with open(path, errors="replace") as f:
        for raw in f:
            line = ANSI.sub("", raw).rstrip("\n")
            m = re.match(r"\s*-(m|n|k|precision) (\d+)", line)
            if m:
                if m.group(1) == "precision":
                    prec = m.group(2)
                else:
                    dims[m.group(1)] = int(m.group(2))
                continue
            if line.startswith("* Parameters explored:"):
                names = line.split(":", 1)[1].split()
                continue
            if not line.startswith("|") or "results match" not in line or not names:
                continue
            cells = [c.strip() for c in line.strip("|").split("|")]
            values = cells[2].split()
            t = re.match(r"([0-9.]+) ms", cells[-3])
            if len(values) != len(names) or not t:
                continue
            yield (float(t.group(1)), dict(zip(names, map(int, values))), device, prec,
                   (dims.get("m", 0), dims.get("n", 0), dims.get("k", 0)))


def main():
    if len(sys.argv) != 3:
        print("usage: clblast_tuner_best.py DIR OUT", file=sys.stderr)
        return 2
    d, out = sys.argv[1], sys.argv[2]
    rows, device = [], ""
    for p in sorted(glob.glob(os.path.join(d, "clblast_xgemm_*.json"))):
        for r in from_json(p):
            rows.append(r)
            device = device or r[2]
    log = os.path.join(d, "tuner.log")
    if os.path.exists(log):
        rows.extend(from_log(log))
    # A finished phase is in its JSON file and in the log: count each configuration once.
    best = {}
    for r in rows:
        if all(k in r[1] for k in XGEMM):
            key = tuple(r[1][k] for k in XGEMM)
            if key not in best or r[0] < best[key][0]:
                best[key] = r
    rows = list(best.values())
    if not rows:
        print("clblast_tuner_best: no verified Xgemm result in %s (did the tuner run long "
              "enough to finish one configuration?)" % d, file=sys.stderr)
        return 1
    if not device:
        print("clblast_tuner_best: no finished tuner phase in %s names the device (its JSON "
              "files are missing); run the tuner longer" % d, file=sys.stderr)
        return 1
    ms, params, _, prec, (m, n, k) = min(rows, key=lambda r: r[0])
    gflops = 2.0 * m * n * k / (ms * 1e-3) * 1e-9 if m and n and k else 0.0
    text = ["cl16-clblast-tuned 1", "device " + device, "kernel Xgemm", "precision " + prec,
            "note clblast_tuner_xgemm best of %d verified configurations: %.2f ms, %.1f GFLOP/s at "
            "%dx%dx%d" % (len(rows), ms, gflops, m, n, k)]
    text += ["param %s %d" % (name, params[name]) for name in XGEMM]
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(text) + "\n")
    os.replace(tmp, out)
    print("clblast_tuner_best: %s: %s" % (out, text[4][5:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
