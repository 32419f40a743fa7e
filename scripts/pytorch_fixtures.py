#!/usr/bin/python3
"""pytorch_fixtures.py - cl16's built-in architectures written in PyTorch, and
the generator of the PyTorch-made model files under tests/fixtures/ that
tests/unit/test_model_pytorch.c loads, runs and compares against PyTorch.

Regenerate (needs Debian's python3-torch and python3-numpy, installed by
scripts/install-pytorch.sh; the test suite itself never needs Python):

    sh scripts/install-pytorch.sh
    /usr/bin/python3 scripts/pytorch_fixtures.py tests/fixtures

For each model it writes
  <name>.safetensors     model.state_dict() exactly as safetensors.torch.save_file
                         lays it out without metadata (what a PyTorch user
                         hands to cl16);
  <name>.io.safetensors  the inputs and PyTorch's answers (see make below);
and architectures.txt, the state_dict names and shapes of every architecture
at several input shapes (write_architectures).

The `safetensors` package is not in Debian, so this file writes (and reads
back) the format itself: 8-byte little-endian header length, a compact JSON
header {name: {dtype, shape, data_offsets}} padded with spaces to a multiple
of 8, then the raw little-endian tensor bytes, tensors ordered like the Rust
writer orders them (larger dtype first in its dtype enumeration, I64 before
F32, then by name). `python3 scripts/pytorch_fixtures.py --check FILE` reads
a file back and prints its keys; `--half-grad-study FILE` prints where a
ResNet-20's 16-bit gradients lose precision, `--kink-study DIR` how far the
fixtures' gradients jump when rounding moves a ReLU input across 0
(docs/models.md).
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- the architectures (module and attribute names are the state_dict keys)


class MLP(nn.Module):
    """fc1, fc2, fc3 with ReLU between, on the flattened input."""

    def __init__(self, in_features, classes=10, hidden1=256, hidden2=128):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden1)
        self.fc2 = nn.Linear(hidden1, hidden2)
        self.fc3 = nn.Linear(hidden2, classes)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def lenet5_flat(height, width):
    """Spatial size after conv1 (pad 2, same size), pool, conv2 (5x5 valid), pool."""
    h = (height // 2 - 4) // 2
    w = (width // 2 - 4) // 2
    if h < 1 or w < 1:
        raise ValueError("lenet5 needs images of at least 12 x 12")
    return 16 * h * w


class LeNet5(nn.Module):
    """conv1 (C->6, 5x5, pad 2), ReLU, max-pool 2, conv2 (6->16, 5x5), ReLU,
    max-pool 2, flatten, fc1 (16*h*w->120), ReLU, fc2 (120->84), ReLU, fc3."""

    def __init__(self, channels=1, classes=10, height=28, width=28):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(lenet5_flat(height, width), 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class BasicBlock(nn.Module):
    """3x3 conv (stride s), BN, ReLU, 3x3 conv, BN, plus the shortcut, ReLU.
    The shortcut is empty (identity, no state_dict entries) unless the shape
    changes, then a 1x1 convolution with stride s and a BatchNorm."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """He et al. 2016, section 4.2: conv1 + bn1 + ReLU, three stages of n
    BasicBlocks (widths 16, 32, 64; stride 2 entering stages 2 and 3), global
    average pool, fc. n = 3, 5, 9 gives ResNet-20, -32, -56."""

    def __init__(self, n, channels=3, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._stage(16, 16, n, 1)
        self.layer2 = self._stage(16, 32, n, 2)
        self.layer3 = self._stage(32, 64, n, 2)
        self.fc = nn.Linear(64, classes)

    @staticmethod
    def _stage(cin, cout, n, stride):
        blocks = [BasicBlock(cin, cout, stride)]
        blocks += [BasicBlock(cout, cout, 1) for _ in range(n - 1)]
        return nn.Sequential(*blocks)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


def build(arch, channels, height, width, classes=10, hidden1=256, hidden2=128):
    if arch == "mlp":
        return MLP(channels * height * width, classes, hidden1, hidden2)
    if arch == "lenet5":
        return LeNet5(channels, classes, height, width)
    depth = {"resnet20": 3, "resnet32": 5, "resnet56": 9}
    if arch in depth:
        return CifarResNet(depth[arch], channels, classes)
    raise ValueError("unknown architecture " + arch)


# ---- safetensors, written and read by hand

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}
FROM_NAME = {v: k for k, v in DTYPES.items()}
# Position in the Rust library's Dtype enumeration; its writer sorts by this,
# descending, then by name.
RANK = {"F16": 7, "BF16": 8, "F32": 11, "I64": 13}


def save_file(tensors, path, metadata=None):
    """Like safetensors.torch.save_file: a dict of contiguous CPU tensors."""
    items = sorted(tensors.items(), key=lambda kv: (-RANK[DTYPES[kv[1].dtype]], kv[0]))
    header = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    blobs, off = [], 0
    for name, t in items:
        t = t.detach().contiguous().cpu()
        if t.dtype == torch.bfloat16:  # numpy has no bfloat16: its bits as int16
            t = t.view(torch.int16)
        raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPES[tensors[name].dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_file(path):
    """Like safetensors.torch.load_file: returns {name: tensor}."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        dt = FROM_NAME[e["dtype"]]
        raw = bytearray(buf[8 + n + a:8 + n + b])
        if dt == torch.bfloat16:
            t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16) if raw else \
                torch.empty(0, dtype=dt)
        else:
            t = torch.frombuffer(raw, dtype=dt) if raw else torch.empty(0, dtype=dt)
        out[name] = t.reshape(e["shape"]).clone()
    return out


# ---- what the C test compares against

U32 = 2.0 ** -24  # unit round-off of float
U16 = 2.0 ** -11  # unit round-off of half


class Trace:
    """Records every place where a 16-bit or a 32-bit forward commits a
    rounding error (a "site": each stored tensor, each weight rounded to
    half, each batch statistic) with a per-element bound on that error, for
    an f32 model (b32) and for a pure f16 model that sums in float (b16). The
    local bounds are the textbook ones: a dot product of length K summed in
    float is off by at most K*u*sum|w_i h_i| (u = 2^-24, whatever the order
    of summation), rounding to half by at most 2^-11 of the value."""

    def __init__(self):
        self.sites = []

    def add(self, y, b32, b16):
        self.sites.append((y, b32.detach(), b16.detach()))
        return y


def traced_forward(model, x, training, tr):
    """The forward pass of `model` (float64, x requiring grad) written out
    op by op, registering each site in `tr`. Mirrors the modules' forward."""
    zero = torch.zeros(())

    def params(m):
        # f32 weights are loaded exactly; the f16 model rounds each one once.
        tr.add(m.weight, zero, U16 * m.weight.abs())
        if m.bias is not None:
            tr.add(m.bias, zero, U16 * m.bias.abs())

    def conv(m, h):
        params(m)
        y = m(h)
        terms = F.conv2d(h.abs(), m.weight.abs(), None if m.bias is None else m.bias.abs(),
                         m.stride, m.padding)
        k = m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3] + 1
        return tr.add(y, k * U32 * terms, k * U32 * terms + U16 * y.abs())

    def lin(m, h):
        params(m)
        y = m(h)
        terms = F.linear(h.abs(), m.weight.abs(), m.bias.abs())
        k = m.weight.shape[1] + 1
        return tr.add(y, k * U32 * terms, k * U32 * terms + U16 * y.abs())

    def bn(m, h):
        c = lambda v: v[None, :, None, None]
        if training:
            n = h.numel() // h.shape[1]
            mu = h.mean(dim=(0, 2, 3))
            var = h.var(dim=(0, 2, 3), unbiased=False)
            # Batch statistics summed in float over n values, the variance
            # two-pass (kernels/norm.cl): one error per channel, shared by
            # every element of it, hence sites of their own.
            dmu = (n + 1) * U32 * h.abs().mean(dim=(0, 2, 3))
            tr.add(mu, dmu, dmu)
            dvar = (n + 3) * U32 * var
            tr.add(var, dvar, dvar)
        else:
            mu, var = m.running_mean, m.running_var
        s = m.weight / torch.sqrt(var + m.eps)
        y = (h - c(mu)) * c(s) + c(m.bias)
        # (x - mean) * invstd * gamma + beta in float: six roundings at most
        # on each term (the statistics and parameters are f32 in both models).
        b = 6 * U32 * ((h - c(mu)).abs() * c(s.abs()) + c(m.bias.abs()))
        return tr.add(y, b, b + U16 * y.abs())

    def add(a, b):
        y = a + b
        return tr.add(y, U32 * y.abs(), U16 * y.abs())

    tr.add(x, zero, U16 * x.abs())
    h = x
    if isinstance(model, MLP):
        h = torch.flatten(h, 1)
        h = F.relu(lin(model.fc1, h))
        h = F.relu(lin(model.fc2, h))
        return lin(model.fc3, h)
    if isinstance(model, LeNet5):
        h = F.max_pool2d(F.relu(conv(model.conv1, h)), 2)
        h = F.max_pool2d(F.relu(conv(model.conv2, h)), 2)
        h = torch.flatten(h, 1)
        h = F.relu(lin(model.fc1, h))
        h = F.relu(lin(model.fc2, h))
        return lin(model.fc3, h)
    h = F.relu(bn(model.bn1, conv(model.conv1, h)))
    for stage in (model.layer1, model.layer2, model.layer3):
        for blk in stage:
            o = F.relu(bn(blk.bn1, conv(blk.conv1, h)))
            o = bn(blk.bn2, conv(blk.conv2, o))
            s = bn(blk.shortcut[1], conv(blk.shortcut[0], h)) if len(blk.shortcut) else h
            h = F.relu(add(o, s))
    hw = h.shape[2] * h.shape[3]
    p = torch.flatten(F.adaptive_avg_pool2d(h, 1), 1)
    pb = (hw + 1) * U32 * torch.flatten(F.adaptive_avg_pool2d(h.abs(), 1), 1)
    p = tr.add(p, pb, pb + U16 * p.abs())
    return lin(model.fc, p)


def error_bounds(model, x, training):
    """Bounds on the error of each logit of an f32 and of a pure f16
    forward, from the local bounds b of the sites carried to the logit by
    the network's actual Jacobian J (first order; in training mode J includes
    the batch statistics' dependence on the input):
      worst = sum_sites sum |J| b          (every error at its bound, aligned)
      rms   = sqrt(sum_sites sum (J b)^2)  (Hoeffding's scale for independent
                                            zero-mean errors, the model of
                                            Higham and Mary 2019)
    Returns float64 logits and {"err32_worst", "err32_rms", "err16_worst",
    "err16_rms"}, each [N, classes]."""
    tr = Trace()
    x = x.clone().requires_grad_(True)
    out = traced_forward(model, x, training, tr)
    ys = [y for y, _, _ in tr.sites]
    res = {k: torch.zeros_like(out) for k in ("err32_worst", "err32_rms", "err16_worst", "err16_rms")}
    for n in range(out.shape[0]):
        for i in range(out.shape[1]):
            gs = torch.autograd.grad(out[n, i], ys, retain_graph=True, allow_unused=True)
            for g, (_, e32, e16) in zip(gs, tr.sites):
                if g is None:
                    continue
                res["err32_worst"][n, i] += (g.abs() * e32).sum()
                res["err16_worst"][n, i] += (g.abs() * e16).sum()
                res["err32_rms"][n, i] += ((g * e32) ** 2).sum()
                res["err16_rms"][n, i] += ((g * e16) ** 2).sum()
    res["err32_rms"] = res["err32_rms"].sqrt()
    res["err16_rms"] = res["err16_rms"].sqrt()
    return out.detach(), {k: v.detach().float() for k, v in res.items()}


def calibrate_batchnorm(model, shape, gen):
    """Gives every BatchNorm non-trivial affine parameters and running
    statistics: weight U(0.5, 1.5), bias U(-0.25, 0.25), then the exact
    average of the batch statistics of four train-mode forwards on random
    images (momentum None = cumulative average), momentum back to PyTorch's
    0.1. num_batches_tracked is then set to 1000 + the layer's position, a
    different known value per layer, so that a counter read into the wrong
    layer shows."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for m in bns:
            m.weight.uniform_(0.5, 1.5, generator=gen)
            m.bias.uniform_(-0.25, 0.25, generator=gen)
            m.momentum = None
        model.train()
        for _ in range(4):
            model(torch.randn(16, *shape, generator=gen))
        for i, m in enumerate(bns):
            m.momentum = 0.1
            m.num_batches_tracked.fill_(1000 + i)
    model.eval()


def half_model(arch, channels, height, width, sd, training):
    """The model in float64 as a pure 16-bit one stores it: Conv2d and
    Linear weights and biases rounded to half, and every stored tensor
    (layer outputs, BatchNorm outputs, residual sums, the input) rounded to
    half on the way forward; the cast's backward rounds the gradient flowing
    into each of them to half as well, as a 16-bit backward pass stores it.
    Sums run in float64. BatchNorm parameters and statistics are not rounded
    (cl16 keeps them f32). Returns (model, rounding function)."""
    m = build(arch, channels, height, width).double()
    m.load_state_dict(sd)
    m.train(training)

    def r(t):
        return t.to(torch.float16).to(torch.float64)

    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                mod.weight.copy_(r(mod.weight))
                if mod.bias is not None:
                    mod.bias.copy_(r(mod.bias))
    for mod in m.modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear, nn.BatchNorm2d, BasicBlock)):
            mod.register_forward_hook(lambda _m, _i, o: r(o))
    return m, r


def emulate_half(arch, channels, height, width, sd, x):
    """Evaluation-mode logits of half_model (for information in the test's
    output; not asserted on)."""
    m, r = half_model(arch, channels, height, width, sd, False)
    with torch.no_grad():
        return m(r(x.double()))


def emulate_half_grads(arch, channels, height, width, sd, x, dl):
    """Gradients of sum(dl * logits) of half_model in training mode, each
    rounded to half as a 16-bit model stores it."""
    m, r = half_model(arch, channels, height, width, sd, True)
    (m(r(x.double())) * dl.double()).sum().backward()
    return {k: r(p.grad) for k, p in m.named_parameters()}


def make(arch, channels, height, width, seed, outdir, batch=4):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the modules' own initialisation
    model = build(arch, channels, height, width)
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    if has_bn:
        calibrate_batchnorm(model, (channels, height, width), gen)
    model.eval()
    name = "%s_%dx%dx%d" % (arch, channels, height, width)
    sd = model.state_dict()
    save_file(sd, os.path.join(outdir, name + ".safetensors"))

    x = torch.randn(batch, channels, height, width, generator=gen)
    io = {"x": x}
    with torch.no_grad():
        io["logits"] = model(x)
        m64 = build(arch, channels, height, width).double()
        m64.load_state_dict(sd)
        m64.eval()
    ref, err = error_bounds(m64, x.double(), False)
    io["logits_ref"] = ref.float()
    io.update({"logits_" + k: v for k, v in err.items()})
    with torch.no_grad():
        io["logits_half_emulated"] = emulate_half(arch, channels, height, width, sd, x).float()
        if has_bn:
            # Train-mode forward on copies: the model itself stays in eval
            # mode with its stored statistics.
            t32 = build(arch, channels, height, width)
            t32.load_state_dict(sd)
            t32.train()
            io["logits_train"] = t32(x)
            t64 = build(arch, channels, height, width).double()
            t64.load_state_dict(sd)
            t64.train()
            with torch.enable_grad():
                ref, err = error_bounds(t64, x.double(), True)
            io["logits_train_ref"] = ref.float()
            io.update({"logits_train_" + k: v for k, v in err.items()})
            t64(x.double())  # the update of the running statistics, in float64
            for k, v in t64.state_dict().items():
                if k.endswith("running_mean") or k.endswith("running_var"):
                    io["after_train." + k] = v.float()
                elif k.endswith("num_batches_tracked"):
                    io["after_train." + k] = v.clone()
    # Gradients of sum(dlogits * logits) after a training-mode forward, in
    # float64 (the reference) and float32 (PyTorch's own error, printed): all
    # of lenet5's, and for the ResNet a subset that covers every kind of
    # layer (first conv, a block's convs, both projections, the last conv,
    # every BatchNorm, fc) to keep the fixture small.
    dl = torch.randn(batch, 10, generator=gen)
    io["dlogits"] = dl
    grads = {}
    for dt in (torch.float64, torch.float32):
        g = build(arch, channels, height, width).to(dt)
        g.load_state_dict(sd)
        g.train()
        (g(x.to(dt)) * dl.to(dt)).sum().backward()
        grads[dt] = {k: v.grad for k, v in g.named_parameters()}
    keep = [k for k in grads[torch.float64]
            if not has_bn or ".bn" in k or k.startswith("bn") or "shortcut" in k or
            k.startswith("fc") or k in ("conv1.weight", "layer1.0.conv1.weight",
                                        "layer2.0.conv1.weight", "layer3.2.conv2.weight")]
    # What storing everything in half costs these gradients by itself (the
    # C test allows cl16's f16 gradients three times that): relative L2 error of
    # the emulation per tensor.
    g16 = emulate_half_grads(arch, channels, height, width, sd, x, dl)
    worst = worst16 = 0.0
    for k in keep:
        ref = grads[torch.float64][k]
        io["grad." + k] = ref.float()
        rel = ((grads[torch.float32][k].double() - ref).norm() / ref.norm()).item()
        rel16 = ((g16[k] - ref).norm() / ref.norm()).item()
        io["grad_half_relerr." + k] = torch.tensor([rel16], dtype=torch.float32)
        worst, worst16 = max(worst, rel), max(worst16, rel16)
    print("%s: %d gradients stored; relative L2 error at most %.3g for PyTorch f32, "
          "%.3g for half storage (emulated)" % (name, len(keep), worst, worst16))
    # Two SGD steps (momentum 0.9, weight decay 5e-4, lr 0.05, the batch x
    # with random labels both times) in float64: both losses and, for the
    # same subset of parameters, the change of each in the first step. (The
    # second step's change is not compared with PyTorch's: at the weights
    # after one step of this size a ReLU input of this batch lies within
    # float rounding of 0, and a perturbation of 1e-6 of the weights moves
    # some gradients by 1.5 %; the C test checks that step against the SGD
    # formula with cl16's own gradients instead.)
    labels = torch.randint(0, 10, (batch,), generator=gen)
    io["train_labels"] = labels
    s64 = build(arch, channels, height, width).double()
    s64.load_state_dict(sd)
    s64.train()
    opt = torch.optim.SGD(s64.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    losses = []
    for step in range(2):
        opt.zero_grad()
        loss = F.cross_entropy(s64(x.double()), labels)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step == 0:
            after = dict(s64.named_parameters())
            for k in keep:
                io["sgd_step1." + k] = (after[k].detach() - sd[k].double()).float()
    io["train_loss"] = torch.tensor(losses, dtype=torch.float32)
    save_file({k: v.contiguous() for k, v in io.items()},
              os.path.join(outdir, name + ".io.safetensors"))

    # Self-check: the file loads back into a fresh PyTorch model and gives
    # the same logits bit for bit.
    back = build(arch, channels, height, width)
    back.load_state_dict(load_file(os.path.join(outdir, name + ".safetensors")))
    back.eval()
    with torch.no_grad():
        assert torch.equal(back(x), io["logits"])
    nparam = sum(p.numel() for p in model.parameters())
    print("%s: %d state_dict entries, %d trainable parameters, max |logit| %.3g, "
          "bounds f32 worst %.3g rms %.3g, f16 worst %.3g rms %.3g; "
          "PyTorch f32 off by %.3g, half emulation by %.3g"
          % (name, len(sd), nparam, io["logits"].abs().max().item(),
             io["logits_err32_worst"].max().item(), io["logits_err32_rms"].max().item(),
             io["logits_err16_worst"].max().item(), io["logits_err16_rms"].max().item(),
             (io["logits"] - io["logits_ref"]).abs().max().item(),
             (io["logits_half_emulated"] - io["logits_ref"]).abs().max().item()))
    if has_bn:
        print("%s train mode: bounds f32 worst %.3g rms %.3g, f16 worst %.3g rms %.3g; "
              "PyTorch f32 off by %.3g"
              % (name, io["logits_train_err32_worst"].max().item(),
                 io["logits_train_err32_rms"].max().item(),
                 io["logits_train_err16_worst"].max().item(),
                 io["logits_train_err16_rms"].max().item(),
                 (io["logits_train"] - io["logits_train_ref"]).abs().max().item()))


# (arch, channels, height, width, classes, hidden1, hidden2) listed in
# architectures.txt: every architecture, odd shapes and sizes included.
LISTED = [
    ("mlp", 1, 28, 28, 10, 256, 128),
    ("mlp", 3, 32, 32, 100, 64, 32),
    ("lenet5", 1, 28, 28, 10, 256, 128),
    ("lenet5", 3, 32, 32, 10, 256, 128),
    ("lenet5", 1, 12, 20, 7, 256, 128),
    ("resnet20", 3, 32, 32, 10, 256, 128),
    ("resnet20", 1, 28, 28, 10, 256, 128),
    ("resnet32", 3, 32, 32, 10, 256, 128),
    ("resnet56", 3, 32, 32, 100, 256, 128),
]


def write_architectures(path):
    """Each listed model's state_dict as PyTorch builds it, in registration
    order: a line `model ARCH C H W CLASSES HIDDEN1 HIDDEN2 TRAINABLE ENTRIES`,
    then one line per entry, `NAME DIM...` (nothing after the name for a
    0-d tensor), then `end`. The C test builds the same models with
    cl16_model_create and compares."""
    lines = ["# state_dict names and shapes of cl16's architectures as PyTorch builds them",
             "# (scripts/pytorch_fixtures.py); read by tests/unit/test_model_pytorch.c"]
    for arch, c, h, w, classes, h1, h2 in LISTED:
        m = build(arch, c, h, w, classes, h1, h2)
        sd = m.state_dict()
        n = sum(p.numel() for p in m.parameters())
        lines.append("model %s %d %d %d %d %d %d %d %d" % (arch, c, h, w, classes, h1, h2, n, len(sd)))
        for k, v in sd.items():
            lines.append(" ".join([k] + [str(d) for d in v.shape]))
        lines.append("end")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def half_gradient_study(sd_path):
    """Where pure-16-bit gradients of a ResNet-20 (the state_dict at sd_path)
    lose precision in training mode: relative L2 distance of each gradient
    from float64's, median and worst over the tensors, with half rounding
    applied to the forward activations only (the gradient passes the
    rounding unchanged), to the gradients flowing backward only, to the
    weights only, and to all three; batches 4, 32 and 128 of random images."""
    sd = load_file(sd_path)
    gen = torch.Generator().manual_seed(3)

    def r(t):
        return t.to(torch.float16).to(torch.float64)

    def grads(x, dl, fwd, bwd, weights):
        m = build("resnet20", 3, 32, 32).double()
        m.load_state_dict(sd)
        m.train()
        if weights:
            with torch.no_grad():
                for mod in m.modules():
                    if isinstance(mod, (nn.Conv2d, nn.Linear)):
                        mod.weight.copy_(r(mod.weight))
                        if mod.bias is not None:
                            mod.bias.copy_(r(mod.bias))

        def hook(_m, _i, o):
            y = o + (r(o) - o).detach() if fwd else o
            if bwd:
                y.register_hook(r)
            return y

        for mod in m.modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear, nn.BatchNorm2d, BasicBlock)):
                mod.register_forward_hook(hook)
        (m(r(x) if fwd else x) * dl).sum().backward()
        return {k: p.grad for k, p in m.named_parameters()}

    for n in (4, 32, 128):
        x = torch.randn(n, 3, 32, 32, generator=gen, dtype=torch.float64)
        dl = torch.randn(n, 10, generator=gen, dtype=torch.float64) / n
        ref = grads(x, dl, False, False, False)
        for label, f, b, w in (("activations", 1, 0, 0), ("gradients", 0, 1, 0),
                               ("weights", 0, 0, 1), ("all three", 1, 1, 1)):
            g = grads(x, dl, f, b, w)
            rel = sorted(((g[k] - ref[k]).norm() / ref[k].norm()).item() for k in ref)
            print("batch %3d, half %-11s: median %.3g, worst %.3g"
                  % (n, label, rel[len(rel) // 2], rel[-1]))


def kink_study(outdir):
    """How far a gradient of the fixtures can move when rounding flips a ReLU
    input (or a max-pool runner-up) across its kink: the largest relative L2
    change of any parameter gradient (loss sum(dlogits * logits), training
    mode, float64) when every weight is multiplied by 1 + 1e-6 N(0, 1),
    over 8 draws; and the same for ResNet-20's cross-entropy gradient at the
    weights after one SGD step (lr 0.05), where the C test stopped comparing
    the second step with PyTorch."""
    for name, arch, shape in (("lenet5_1x28x28", "lenet5", (1, 28, 28)),
                              ("resnet20_3x32x32", "resnet20", (3, 32, 32))):
        sd = load_file(os.path.join(outdir, name + ".safetensors"))
        io = load_file(os.path.join(outdir, name + ".io.safetensors"))
        x, dl, y = io["x"].double(), io["dlogits"].double(), io["train_labels"]

        def grads(noise, seed, sgd_first):
            m = build(arch, *shape).double()
            m.load_state_dict(sd)
            m.train()
            if sgd_first:
                opt = torch.optim.SGD(m.parameters(), lr=0.05)
                F.cross_entropy(m(x), y).backward()
                opt.step()
                opt.zero_grad()
            g = torch.Generator().manual_seed(seed)
            with torch.no_grad():
                for p in m.parameters():
                    p.mul_(1 + noise * torch.randn(p.shape, generator=g, dtype=torch.float64))
            loss = F.cross_entropy(m(x), y) if sgd_first else (m(x) * dl).sum()
            loss.backward()
            return {k: p.grad.clone() for k, p in m.named_parameters()}

        for sgd_first in ((False, True) if arch == "resnet20" else (False,)):
            ref = grads(0.0, 0, sgd_first)
            worst = 0.0
            for seed in range(1, 9):
                g = grads(1e-6, seed, sgd_first)
                worst = max(worst, max(((g[k] - ref[k]).norm() / ref[k].norm()).item()
                                       for k in ref))
            print("%s%s: largest gradient change under 1e-6 weight noise: %.3g"
                  % (name, " after one SGD step" if sgd_first else "", worst))


def main(argv):
    if len(argv) == 3 and argv[1] == "--kink-study":
        kink_study(argv[2])
        return 0
    if len(argv) == 3 and argv[1] == "--half-grad-study":
        half_gradient_study(argv[2])
        return 0
    if len(argv) == 3 and argv[1] == "--check":
        sd = load_file(argv[2])
        for k, v in sd.items():
            print(k, v.dtype, list(v.shape))
        return 0
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    outdir = argv[1]
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)  # reproducible sums whatever the machine
    make("lenet5", 1, 28, 28, seed=5, outdir=outdir)
    make("resnet20", 3, 32, 32, seed=20, outdir=outdir)
    write_architectures(os.path.join(outdir, "architectures.txt"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
