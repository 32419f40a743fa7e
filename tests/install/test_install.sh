#!/bin/sh
# test_install.sh BUILD_DIR SRC_DIR WORK_DIR - installs cl16 from BUILD_DIR
# into WORK_DIR/prefix, then builds and runs consumer.c against it twice:
# with pkg-config and with a CMake project using find_package(cl16).
set -eu
build=$1 src=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
for f in include/cl16.h bin/cl16; do
    [ -e "$prefix/$f" ] || { echo "FAIL: $f not installed" >&2; exit 1; }
done
libdir=$(cd "$(dirname "$(find "$prefix" -name cl16.pc | head -1)")/.." && pwd)
[ -e "$libdir/libcl16.so" ] && [ -e "$libdir/libcl16.a" ] || { echo "FAIL: libraries not installed" >&2; exit 1; }

# 1. pkg-config
export PKG_CONFIG_PATH="$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
cc -o "$work/consumer_pc" "$src/consumer.c" $(pkg-config --define-prefix --cflags --libs cl16) -lOpenCL \
    -Wl,-rpath,"$libdir"
"$work/consumer_pc"
# Static: the archive itself in place of -lcl16 (which would pick the .so),
# then everything pkg-config --static says it needs (OpenCL, CLBlast, libm).
static_libs=""
for f in $(pkg-config --define-prefix --static --libs cl16); do
    [ "$f" = -lcl16 ] || static_libs="$static_libs $f"
done
cc -o "$work/consumer_pc_static" "$src/consumer.c" $(pkg-config --define-prefix --cflags cl16) \
    "$libdir/libcl16.a" $static_libs
"$work/consumer_pc_static"

# 2. find_package(cl16)
cmake -S "$src" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" >"$work/cmake.log"
cmake --build "$work/cmake-build" >>"$work/cmake.log"
"$work/cmake-build/consumer_shared"
"$work/cmake-build/consumer_static"
"$prefix/bin/cl16" --version
echo "test_install: all checks passed"
