#!/bin/sh
# Installs Intel's CPU OpenCL runtime (PyPI intel-opencl-rt, native half) into a
# project-local folder and registers it with ocl-icd through OCL_ICD_VENDORS.
#
#   sh scripts/install-intel-ocl.sh [--from WHEELDIR] [DIR]     (default DIR: .deps/intel-ocl)
#
# Writes DIR/prefix (the runtime, about 810 MB), DIR/vendors (copies of the
# system's /etc/OpenCL/vendors/*.icd plus intel.icd) and DIR/env.sh (source it:
# exports OCL_ICD_VENDORS=DIR/vendors). Idempotent: a complete install is kept.
# --from WHEELDIR installs from wheels already downloaded there (no index).
# Never put DIR/prefix/lib on LD_LIBRARY_PATH: it holds Intel's own
# libOpenCL.so.1, which would replace ocl-icd (see docs/devices.md).
set -eu

VERSION=${CL16_INTEL_OCL_VERSION:-2026.2.0}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR="" FROM=""
die() { echo "install-intel-ocl: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case $1 in
        --from) [ $# -ge 2 ] || die "--from needs a folder"
                FROM=$(cd "$2" 2>/dev/null && pwd) || die "--from: no folder $2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        -*) echo "install-intel-ocl: unknown option $1" >&2; exit 2 ;;
        *) DIR=$1; shift ;;
    esac
done
DIR=${DIR:-$ROOT/.deps/intel-ocl}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)          # the .icd file must hold an absolute path
P=$DIR/prefix
LIB=$P/lib/libintelocl.so
STAMP=$DIR/.installed-$VERSION

if [ -f "$STAMP" ] && [ -f "$LIB" ]; then
    echo "install-intel-ocl: $VERSION already installed in $P"
else
    # Any pip will do; the wheels are plain files (manylinux, py2.py3).
    PIP=""
    for c in "python3 -m pip" pip3 pip; do
        if $c --version >/dev/null 2>&1; then PIP=$c; break; fi
    done
    [ -n "$PIP" ] || die "no pip found (install python3-pip)"
    export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
    rm -rf "$P" "$DIR"/.installed-*
    if [ -n "$FROM" ]; then
        SRC="--no-index --find-links $FROM"
    else
        SRC=""
        echo "install-intel-ocl: downloading intel-opencl-rt $VERSION (about 225 MB)"
        $PIP download -q --no-deps -d "$DIR/dl" "intel-opencl-rt==$VERSION" ||
            die "pip download of intel-opencl-rt==$VERSION failed"
        FROM=$DIR/dl
    fi
    WHEEL=$(ls "$FROM"/intel_opencl_rt-"$VERSION"-*.whl 2>/dev/null | head -n 1)
    [ -n "$WHEEL" ] || die "no intel_opencl_rt-$VERSION wheel in $FROM"
    # --prefix, not --target: --target drops the wheel's data/lib (every .so).
    # --ignore-installed: its dependencies (tbb, ...) go into the prefix even
    # when the running Python already has them.
    # The wheel does not declare intel-cmplr-lib-rt, yet libintelocl.so needs
    # its libimf, libsvml, libirng and libintlc.
    # shellcheck disable=SC2086
    $PIP install -q --prefix "$P" --ignore-installed --no-warn-script-location $SRC \
        "$WHEEL" "intel-cmplr-lib-rt==$VERSION" ||
        die "pip install into $P failed"
    [ -f "$LIB" ] || die "pip finished but $LIB is missing"
    touch "$STAMP"
fi

# libintelocl.so finds its dependencies through its RUNPATH ($ORIGIN).
if missing=$(ldd "$LIB" 2>&1 | grep "not found"); then
    die "$LIB cannot load; missing libraries:
$missing"
fi

# The vendor folder replaces /etc/OpenCL/vendors for ocl-icd, so copy the
# system's entries (PoCL, ...) into it: both then appear as devices.
rm -rf "$DIR/vendors"
mkdir -p "$DIR/vendors"
for f in /etc/OpenCL/vendors/*.icd; do
    [ -f "$f" ] || continue
    b=$(basename "$f")
    [ "$b" = intel.icd ] && b=system-intel.icd
    cp "$f" "$DIR/vendors/$b"
done
# The .icd shipped in the wheel names a placeholder path; write our own.
echo "$LIB" > "$DIR/vendors/intel.icd"

cat > "$DIR/env.sh" <<EOF
# source me: every system OpenCL implementation plus Intel's CPU runtime $VERSION
# (written by scripts/install-intel-ocl.sh). Do not add $P/lib to LD_LIBRARY_PATH.
export OCL_ICD_VENDORS=$DIR/vendors
EOF

# Check that ocl-icd really lists Intel's platform.
if command -v clinfo >/dev/null 2>&1; then
    out=$(OCL_ICD_VENDORS="$DIR/vendors" clinfo -l 2>&1) || true
    echo "$out"
    echo "$out" | grep -q "Intel(R) OpenCL" ||
        die "clinfo lists no Intel(R) OpenCL platform with OCL_ICD_VENDORS=$DIR/vendors"
else
    echo "install-intel-ocl: clinfo not installed; skipped the platform check"
fi
echo "install-intel-ocl: done. Use it with:  . $DIR/env.sh"
