#!/usr/bin/env python3
"""tinygrad_peer.py - the tinygrad peer of `cl16 bench train` on the same OpenCL
device: whole fp32 training steps (forward, cross-entropy, backward, SGD with
momentum) of cl16's LeNet-5 and ResNet-20 in tinygrad, then `cl16 bench train`
for the same models and batch in the same run, and the ratio cl16/tinygrad in
images/s. Not a test; needs tinygrad in its private environment
(scripts/install-tinygrad.sh). Run with `make bench-tinygrad` or

    .deps/tinygrad-venv/bin/python bench/tinygrad_peer.py [--models lenet5,resnet20]
        [--batch 128] [--steps 5] [--blocks 3] [--device GPU] [--cl16 build/cl16]
        [--json FILE]

tinygrad's "GPU" device is its OpenCL backend, which finds the same ICD loader
and platform (PoCL here) as cl16; it computes in fp32 because PoCL on a CPU has
no cl_khr_fp16. --device CPU (tinygrad's C compiler backend) is a fallback peer
only, reported as such, never as "the same OpenCL device".

Like cl16's benchmark: random normal images (1x28x28 for LeNet-5, 3x32x32 for
the ResNets, as `cl16 bench train` feeds them), labels (7 i) mod 10, SGD lr
0.01, momentum 0.9, weight decay 5e-4. The step is a TinyJit function: its
first call runs eagerly and compiles every kernel, the second records, from the
third on it replays; those three are timed apart (first_steps_s), then the best
of `blocks` blocks of `steps` steps, each step waited for.

With --serve MODEL it is a peer of `cl16 bench train --peer CMD` instead, its
steps timed in cl16's rounds (bench/peer_common.py, serve):

    build/cl16 bench train --peer ".deps/tinygrad-venv/bin/python bench/tinygrad_peer.py"
"""
import argparse
import os
import sys
import time

from peer_common import cl16_train, cpu_name, input_shape, serve, write_json

from tinygrad import Device, Tensor, TinyJit, nn
from tinygrad.nn.state import get_parameters

WARM = 3  # eager, record, first replay


class LeNet5:
    """conv1 (C->6, 5x5, pad 2), ReLU, max-pool 2, conv2 (6->16, 5x5), ReLU,
    max-pool 2, fc1 (->120), ReLU, fc2 (->84), ReLU, fc3 (->10): cl16's lenet5."""

    def __init__(self, c, h, w, classes=10):
        self.conv1 = nn.Conv2d(c, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        fh, fw = (h // 2 - 4) // 2, (w // 2 - 4) // 2
        self.fc1 = nn.Linear(16 * fh * fw, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, classes)

    def __call__(self, x):
        x = self.conv1(x).relu().max_pool2d(2)
        x = self.conv2(x).relu().max_pool2d(2).flatten(1)
        return self.fc3(self.fc2(self.fc1(x).relu()).relu())


def batchnorm(n):
    return (getattr(nn, "BatchNorm2d", None) or nn.BatchNorm)(n)


class Block:
    """Basic block: 3x3 conv (stride s), BN, ReLU, 3x3 conv, BN, plus the input,
    or a 1x1 conv (stride s) + BN where the shape changes; ReLU."""

    def __init__(self, cin, cout, stride):
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = batchnorm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = batchnorm(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = (nn.Conv2d(cin, cout, 1, stride, bias=False), batchnorm(cout))

    def __call__(self, x):
        out = self.bn1(self.conv1(x)).relu()
        out = self.bn2(self.conv2(out))
        sc = x if self.short is None else self.short[1](self.short[0](x))
        return (out + sc).relu()


class ResNet:
    """CIFAR ResNet-(6n+2): conv 3x3 (C->16), BN, ReLU, three stages of n blocks
    (16, 32, 64 channels; stride 1, 2, 2), global average pool, fc: cl16's resnet20."""

    def __init__(self, n, c, classes=10):
        self.conv1 = nn.Conv2d(c, 16, 3, 1, 1, bias=False)
        self.bn1 = batchnorm(16)
        self.blocks, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(n):
                self.blocks.append(Block(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.fc = nn.Linear(64, classes)

    def __call__(self, x):
        x = self.bn1(self.conv1(x)).relu()
        for b in self.blocks:
            x = b(x)
        return self.fc(x.mean((2, 3)))


def build(name, c, h, w):
    if name == "lenet5":
        return LeNet5(c, h, w)
    depth = {"resnet20": 3, "resnet32": 5, "resnet56": 9}.get(name)
    if depth is None:
        raise SystemExit("tinygrad_peer: model '%s' is not one of lenet5, resnet20, resnet32, "
                         "resnet56" % name)
    return ResNet(depth, c)


def stepper(name, batch):
    """One whole training step of the model on fixed data, as a function
    returning the loss once the step is done."""
    c, h, w = input_shape(name)
    Tensor.manual_seed(1)
    model = build(name, c, h, w)
    opt = nn.optim.SGD(get_parameters(model), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = Tensor.randn(batch, c, h, w).realize()
    y = Tensor([(7 * i) % 10 for i in range(batch)]).realize()

    @TinyJit
    def jitted(x, y):
        with Tensor.train():
            opt.zero_grad()
            loss = model(x).sparse_categorical_crossentropy(y).backward()
            opt.step()
            return loss.realize()

    return lambda: jitted(x, y).item()  # .item() waits for the step, as cl16's timing does


def serve_model(name, batch):
    """--serve: the peer of `cl16 bench train --peer` (peer_common.serve)."""
    import importlib.metadata as md
    step = stepper(name, batch)
    for _ in range(WARM):
        step()
    dev = Device[Device.DEFAULT]
    return serve(step, {"peer": "tinygrad", "version": md.version("tinygrad"),
                        "precision": "fp32", "device": "%s %s" % (
                            Device.DEFAULT, getattr(dev, "device_name", None) or cpu_name()),
                        "model": name, "batch": batch})


def run(name, batch, steps, blocks):
    c, h, w = input_shape(name)
    step = stepper(name, batch)
    t0 = time.perf_counter()
    for _ in range(WARM):
        loss = step()
    first = time.perf_counter() - t0
    best = float("inf")
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = step()
        best = min(best, (time.perf_counter() - t0) / steps)
    return {"model": name, "precision": "fp32", "input": [c, h, w],
            "ms_per_step": round(best * 1e3, 3), "images_per_s": round(batch / best, 1),
            "first_steps_s": round(first, 3), "warm_steps": WARM, "loss": round(loss, 4)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="lenet5,resnet20")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("--device", default="GPU",
                    help="tinygrad device: GPU (OpenCL, the peer) or CPU (fallback, labelled)")
    ap.add_argument("--cl16", default="build/cl16", help="cl16 binary; 'none' skips cl16's run")
    ap.add_argument("--cl16-precisions", default="fp32,fp16")
    ap.add_argument("--json", help="also write the JSON to this file")
    ap.add_argument("--serve", metavar="MODEL",
                    help="be the peer of `cl16 bench train --peer` for this model")
    a = ap.parse_args()
    Device.DEFAULT = a.device
    if a.serve:
        return serve_model(a.serve, a.batch)
    dev = Device[Device.DEFAULT]
    import importlib.metadata as md
    opencl = Device.DEFAULT in ("GPU", "CL")
    out = {
        "benchmark": "train",
        "peer": "tinygrad",
        "tinygrad_version": md.version("tinygrad"),
        "tinygrad_device": Device.DEFAULT,
        "same_opencl_device_as_cl16": opencl,
        "note": "" if opencl else "fallback peer: tinygrad's %s backend on the host, not "
                "the OpenCL device cl16 uses" % Device.DEFAULT,
        "opencl_device": getattr(dev, "device_name", None) if opencl else None,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": cpu_name(),
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "batch": a.batch, "steps": a.steps, "blocks": a.blocks,
        "optimizer": "sgd-momentum",
        "runs": [], "cl16": [], "ratios": [],
    }
    for name in a.models.split(","):
        print("tinygrad_peer: %s on tinygrad %s ..." % (name, Device.DEFAULT), file=sys.stderr)
        tg = run(name, a.batch, a.steps, a.blocks)
        out["runs"].append(tg)
        print("tinygrad_peer: %s: %.1f images/s (%.1f ms/step; first %d steps %.1f s)" %
              (name, tg["images_per_s"], tg["ms_per_step"], WARM, tg["first_steps_s"]),
              file=sys.stderr)
        if a.cl16 == "none":
            continue
        c = cl16_train(a.cl16, name, a.cl16_precisions, a.batch, a.steps)
        out["cl16"].append(c)
        for r in c.get("runs", []):
            ratio = r["images_per_s"] / tg["images_per_s"]
            out["ratios"].append({"model": name, "cl16_precision": r["precision"],
                                  "cl16_images_per_s": r["images_per_s"],
                                  "tinygrad_images_per_s": tg["images_per_s"],
                                  "cl16_over_tinygrad": round(ratio, 3), "goal": 3.0,
                                  "met": ratio >= 3.0})
    for q in out["ratios"]:
        print("tinygrad_peer: %-9s cl16 %-5s %8.1f images/s vs tinygrad %s fp32 %8.1f: %.2fx "
              "(goal >= 3x: %s)" % (q["model"], q["cl16_precision"], q["cl16_images_per_s"],
                                     Device.DEFAULT, q["tinygrad_images_per_s"],
                                     q["cl16_over_tinygrad"], "met" if q["met"] else "NOT met"),
              file=sys.stderr)
    write_json(out, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
