#!/bin/sh
# conv.sh [CL16|BUILD_DIR] [JSON] [options...] - cl16 f16 and f32 convolution
# (forward, backward-data, backward-weights) next to CLBlast on every LeNet-5 and
# ResNet-20 conv layer at batch 128, in one process so the ratios share the
# machine's load. Table on stdout, JSON in JSON (default bench-conv.json); further
# options go to `cl16 bench conv` (e.g. --quick, --reps R, --cpu-time).
CL16=${1:-build}
[ -d "$CL16" ] && CL16="$CL16/cl16"
JSON=${2:-bench-conv.json}
[ $# -gt 2 ] && shift 2 || set --
exec "$CL16" bench conv --json "$JSON" "$@"
