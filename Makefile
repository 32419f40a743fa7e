# Thin wrapper over CMake: each target installs missing Debian packages
# (scripts/install-deps.sh, a no-op when all are present), configures, builds, runs.
BUILD      ?= build
BUILD_SAN  ?= build-sanitize
BUILD_FUZZ ?= build-fuzz
BUILD_VG   ?= build-valgrind
# Seconds per harness for `make fuzz`; FUZZ_RUNS caps executions instead.
FUZZ_SECONDS ?= 30
FUZZ_CC    ?= $(shell command -v clang || command -v clang-15 || command -v clang-14)
# ctest -R regex of the tests `make test-valgrind` runs ("" = all C tests),
# and how many run at once (valgrind is heavy; default one).
VALGRIND_TESTS ?=
VALGRIND_JOBS ?= 1
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
INTEL_OCL_DIR ?= .deps/intel-ocl

.PHONY: all deps build demo test test-sanitize test-all fuzz test-valgrind intel-ocl test-all-devices bench-quick bench-study test-kill test-faults bench-pytorch bench-vs-pytorch bench-tinygrad tune-clblast clean

all: build

deps:
	@sh scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The main job: pre-train LeNet-5 in fp32 on Fashion-MNIST, continue it in fp32
# and in fp16, and print the comparison table (scripts/demo.sh; outputs in
# $(BUILD)/demo). Full epochs, about 4 minutes on 2 cores; DEMO_LIMIT=30000
# trains each epoch on the first 30000 images instead.
demo: build
	@sh scripts/demo.sh $(BUILD)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The whole suite built with AddressSanitizer + UndefinedBehaviorSanitizer.
# LeakSanitizer reports from inside the OpenCL driver are suppressed by
# tests/sanitize/lsan.supp (PoCL only; see the comments there), never cl16's own.
test-sanitize: deps
	@cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DCL16_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_SAN) -j $(JOBS)
	cd $(BUILD_SAN) && \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitize/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

test-all: test test-sanitize

# libFuzzer harnesses of every user-file parser (tests/fuzz/, docs/reliability.md),
# built with clang -fsanitize=fuzzer,address,undefined in $(BUILD_FUZZ); each
# runs FUZZ_SECONDS. A crash fails the target and leaves its input in
# $(BUILD_FUZZ)/crashes/. Only the model harness needs an OpenCL device.
fuzz: deps
	@test -n "$(FUZZ_CC)" || { echo "make fuzz: clang not found"; exit 1; }
	@CC=$(FUZZ_CC) cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCL16_FUZZ=ON \
	  -DCL16_BUILD_TESTS=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_FUZZ) -j $(JOBS) --target fuzz_all
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh scripts/fuzz.sh $(BUILD_FUZZ)

# The C test programs under valgrind memcheck (tests/sanitize/valgrind.sh and
# valgrind.supp: PoCL/driver noise only). Slow: VALGRIND_TESTS narrows it to a
# ctest -R regex. The shell tests (cli, install, kernels_compile,
# embed_duplicate, cli_train, example_continue16, kill_checkpoint) are left
# out: valgrind would only watch /bin/sh.
test-valgrind: deps
	@cmake -S . -B $(BUILD_VG) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCL16_TEST_LAUNCHER=$(CURDIR)/tests/sanitize/valgrind.sh -DCL16_TEST_TIMEOUT=7200 \
	  $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_VG) -j $(JOBS)
	cd $(BUILD_VG) && CL16_VALGRIND_LOGS=$(CURDIR)/$(BUILD_VG)/valgrind-logs \
	  ctest --output-on-failure -j $(VALGRIND_JOBS) -E '^(cli|install|kernels_compile|embed_duplicate|cli_train|example_continue16|kill_checkpoint)$$' \
	  $(if $(VALGRIND_TESTS),-R '$(VALGRIND_TESTS)')

# Intel's CPU OpenCL runtime (native half) from PyPI into $(INTEL_OCL_DIR),
# about 810 MB; never run by CI. Then `. $(INTEL_OCL_DIR)/env.sh`.
intel-ocl:
	@sh scripts/install-intel-ocl.sh $(INTEL_OCL_DIR)

# The whole suite once per OpenCL device, each from fresh caches; a table of
# results. Uses $(INTEL_OCL_DIR)/env.sh when present and OCL_ICD_VENDORS is unset.
test-all-devices: build
	@CL16_INTEL_OCL_DIR=$(INTEL_OCL_DIR) JOBS=$(JOBS) sh scripts/test-all-devices.sh $(BUILD)

# The accuracy study (bench/accuracy-study.sh; docs/results.md): LeNet-5 pre-trained
# in fp32, continued in every precision at two learning rates. bench-quick: one
# seed, one short epoch each (a few minutes); bench-study: the documented full run.
bench-quick: build
	@sh scripts/install-deps.sh gnuplot-nox || echo "gnuplot not installed: the study runs without plots"
	STUDY_SEEDS=1 STUDY_PRE_EPOCHS=1 STUDY_EPOCHS=1 STUDY_LIMIT=12000 STUDY_TEST_LIMIT=2000 \
	  STUDY_OUT=$(BUILD)/study-quick sh bench/accuracy-study.sh $(BUILD)

bench-study: build
	@sh scripts/install-deps.sh gnuplot-nox || echo "gnuplot not installed: the study runs without plots"
	sh bench/accuracy-study.sh $(BUILD)

# 200 SIGKILLs of a training run at random moments (tests/reliability/kill_checkpoint.sh;
# about 11 minutes): the checkpoint on disk must always load, checksum verified.
test-kill: build
	sh tests/reliability/kill_checkpoint.sh $(BUILD)/cl16 $(BUILD)/kill-test 200

# Fault injection (tests/reliability/fault_sweep.sh) in an ASan+UBSan build with
# the CL16_FAULT_INJECTION hooks, in build-fault/.
test-faults: deps
	@cmake -S . -B build-fault -DCMAKE_BUILD_TYPE=Debug -DCL16_SANITIZE=ON -DCL16_FAULT_INJECTION=ON \
	  -DCL16_BUILD_TESTS=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-fault -j $(JOBS) --target cl16
	ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitize/lsan.supp:print_suppressions=0 \
	  sh tests/reliability/fault_sweep.sh build-fault/cl16 build-fault/fault-sweep

# The PyTorch peer of `cl16 bench train` (CPU fp32 training steps, JSON on
# stdout and in $(BUILD)/bench-pytorch.json); installs Debian's python3-torch
# first. Not part of the tests.
PYTHON ?= /usr/bin/python3
bench-pytorch:
	@sh scripts/install-pytorch.sh
	@mkdir -p $(BUILD)
	$(PYTHON) bench/pytorch_peer.py --json $(BUILD)/bench-pytorch.json

# cl16 against PyTorch in the same rounds: `cl16 bench train --peer`, PyTorch's
# steps (bench/pytorch_peer.py --serve) timed block for block between cl16's,
# cl16's speed over PyTorch per precision the median of the rounds' ratios
# (docs/benchmarks.md, "Peers in the same rounds"). Not part of the tests.
bench-vs-pytorch: build
	@sh scripts/install-pytorch.sh
	$(BUILD)/cl16 bench train --blocks 15 --peer "$(PYTHON) bench/pytorch_peer.py" \
	  --json $(BUILD)/bench-vs-pytorch.json

# The tinygrad peer of `cl16 bench train` on the same OpenCL device (fp32 steps of
# LeNet-5 and ResNet-20, then cl16's own run and the ratio; JSON on stdout and in
# $(BUILD)/bench-tinygrad.json). Installs tinygrad into $(TINYGRAD_VENV) first
# (scripts/install-tinygrad.sh). TINYGRAD_ARGS passes options, e.g. --models lenet5.
# Not part of the tests.
TINYGRAD_VENV ?= .deps/tinygrad-venv
TINYGRAD_ARGS ?=
bench-tinygrad: build
	@sh scripts/install-tinygrad.sh $(TINYGRAD_VENV)
	$(TINYGRAD_VENV)/bin/python bench/tinygrad_peer.py --cl16 $(BUILD)/cl16 \
	  --json $(BUILD)/bench-tinygrad.json $(TINYGRAD_ARGS)

# CLBlast's own GEMM tuner on the device (bounded: TUNE_SECONDS per precision,
# default 600), its best parameters kept for `cl16 bench gemm`'s CLBt peers
# (scripts/tune-clblast.sh; installs Debian's clblast-utils). Not part of the tests.
tune-clblast: build
	sh scripts/tune-clblast.sh $(BUILD)/cl16

clean:
	rm -rf $(BUILD) $(BUILD_SAN) $(BUILD_FUZZ) $(BUILD_VG)
