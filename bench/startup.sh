#!/bin/sh
# startup.sh [CL16] - cold and warm start to a ready context (every default
# kernel built or loaded), median of 5 fresh processes each, per device.
# Cold: empty cl16 cache and PoCL's kernel cache off; warm: full cache.
CL16=${1:-build/cl16}
"$CL16" devices --timing
