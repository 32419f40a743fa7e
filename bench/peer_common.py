"""peer_common.py - what the peer benchmarks of `cl16 bench train`
(bench/pytorch_peer.py, bench/tinygrad_peer.py) share: the CPU's name, the
JSON written atomically, cl16's own run of the same models read back, the
input shape cl16 gives each model, and the --serve loop that lets
`cl16 bench train --peer` time a peer's steps in its own rounds. Standard
library only."""
import json
import os
import platform
import subprocess
import sys
import tempfile


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def input_shape(model):
    """As `cl16 bench train` feeds them: ResNets 3x32x32, the others 1x28x28."""
    return (3, 32, 32) if model.startswith("resnet") else (1, 28, 28)


def serve(step, hello):
    """The peer's side of `cl16 bench train --peer` (src/cli/bench_peer.h):
    hello (a dict naming at least "peer" and "precision") as one line of JSON,
    then one whole training step, waited for, per "step" line on stdin,
    answered "ok LOSS" (or "error WHY"), until stdin ends. The caller has
    built the model and taken its warm-up steps."""
    print(json.dumps(hello), flush=True)
    for line in sys.stdin:
        if line.strip() != "step":
            print("error unknown request %r" % line.strip()[:80], flush=True)
            continue
        try:
            loss = step()
        except Exception as e:  # reported to cl16, which names the peer
            print("error %s" % str(e).replace("\n", " ")[:500], flush=True)
            continue
        print("ok %.6g" % loss, flush=True)
    return 0


def write_json(obj, path):
    text = json.dumps(obj, indent=2)
    print(text)
    if path:
        tmp = path + ".tmp.%d" % os.getpid()
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, path)


def cl16_train(cl16, model, precisions, batch, steps):
    """Runs `cl16 bench train` for one model; returns its JSON (dict), or raises
    RuntimeError naming the command and its exit status."""
    fd, path = tempfile.mkstemp(prefix="cl16-peer-", suffix=".json")
    os.close(fd)
    cmd = [cl16, "bench", "train", "--models", model, "--precisions", precisions,
           "--batch", str(batch), "--steps", str(steps), "--json", path]
    try:
        print("peer: %s" % " ".join(cmd), file=sys.stderr)
        r = subprocess.run(cmd, stdout=sys.stderr)
        if r.returncode != 0:
            raise RuntimeError("%s exited with status %d" % (" ".join(cmd), r.returncode))
        with open(path) as f:
            return json.load(f)
    finally:
        os.unlink(path)
