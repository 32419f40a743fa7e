#!/usr/bin/python3
"""pytorch_peer.py - the PyTorch peer of `cl16 bench train`: whole fp32
training steps (forward, cross-entropy, backward, SGD with momentum) of the
same architectures on the CPU, timed the same way, printed as JSON so that
the two can be put side by side as a ratio. Not a test; needs Debian's
python3-torch (scripts/install-pytorch.sh). Run with `make bench-pytorch` or

    /usr/bin/python3 bench/pytorch_peer.py [--models lenet5,resnet20] [--batch 128]
        [--steps 5] [--blocks 3] [--threads N] [--json FILE]

Like cl16's benchmark: random normal images (1x28x28 for lenet5 and mlp,
3x32x32 for the ResNets), labels (7 i) mod classes, SGD lr 0.01, momentum
0.9, weight decay 5e-4; two warm-up steps, then `blocks` blocks of `steps`
steps: the fastest block (ms_per_step, images_per_s), the median one
(ms_per_step_median, images_per_s_median) and the slowest (ms_per_step_max).
Threads default to os.cpu_count(), all the cores, as cl16's OpenCL CPU device
uses them.

With --serve MODEL it is the peer of `cl16 bench train --peer CMD`, which
times its steps in the same rounds as cl16's, block for block: it builds the
model, takes its two warm-up steps, prints one line of JSON that names it,
then runs one step for each "step" line on its stdin and answers "ok LOSS"
(or "error WHY"), until its stdin ends:

    build/cl16 bench train --peer "/usr/bin/python3 bench/pytorch_peer.py"
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from pytorch_fixtures import build  # noqa: E402  (the architectures, cl16's names)
from peer_common import cpu_name, input_shape, serve, write_json  # noqa: E402  (bench/)


def stepper(name, batch):
    """One whole training step of the model on fixed data, as a function."""
    c, h, w = input_shape(name)
    torch.manual_seed(1)
    model = build(name, c, h, w).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(batch, c, h, w)
    y = torch.tensor([(7 * i) % 10 for i in range(batch)])

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()  # waits for the step, as cl16's timing does

    return step


def serve_model(name, batch):
    """--serve: the peer of `cl16 bench train --peer` (peer_common.serve)."""
    step = stepper(name, batch)
    for _ in range(2):
        step()
    return serve(step, {"peer": "pytorch", "version": torch.__version__, "precision": "fp32",
                        "threads": torch.get_num_threads(), "device": cpu_name(),
                        "model": name, "batch": batch})


def run(name, batch, steps, blocks):
    c, h, w = input_shape(name)
    step = stepper(name, batch)
    t0 = time.perf_counter()
    for _ in range(2):
        step()
    first = time.perf_counter() - t0
    per = []  # seconds per step of each block
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = step()
        per.append((time.perf_counter() - t0) / steps)
    per.sort()
    best, worst = per[0], per[-1]
    mid = len(per) // 2
    med = per[mid] if len(per) % 2 else 0.5 * (per[mid - 1] + per[mid])
    # The fastest block, and the median and slowest ones as cl16's JSON has
    # them (`cl16 bench compare` then sets median against median).
    return {"model": name, "precision": "fp32", "input": [c, h, w],
            "ms_per_step": round(best * 1e3, 3), "ms_per_step_median": round(med * 1e3, 3),
            "ms_per_step_max": round(worst * 1e3, 3), "images_per_s": round(batch / best, 1),
            "images_per_s_median": round(batch / med, 1),
            "first_steps_s": round(first, 3), "loss": round(loss, 4)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="lenet5,resnet20")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--json", help="also write the JSON to this file")
    ap.add_argument("--serve", metavar="MODEL",
                    help="be the peer of `cl16 bench train --peer` for this model")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.serve:
        return serve_model(a.serve, a.batch)
    out = {
        "benchmark": "train",
        "peer": "pytorch",
        "torch_version": torch.__version__,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "device": cpu_name(),
        "threads": torch.get_num_threads(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        # A shared machine: other work running meanwhile shows here.
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "batch": a.batch, "steps": a.steps, "blocks": a.blocks,
        "optimizer": "sgd-momentum",
        "runs": [],
    }
    for name in a.models.split(","):
        print("pytorch_peer: %s ..." % name, file=sys.stderr)
        out["runs"].append(run(name, a.batch, a.steps, a.blocks))
    write_json(out, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
