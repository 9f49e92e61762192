#!/usr/bin/env bash
# The test suite under AddressSanitizer and UndefinedBehaviorSanitizer: builds opbench with GCC's
# sanitizers (CUDA off) into build-asan/ and runs the tests through CTest there. Any sanitizer
# report fails its test (halt_on_error), and so .ci/run. The build test (label `build`, a whole
# second configure and build) is left out: it checks CMake, not memory.
# -O1, as AddressSanitizer's documentation advises: it keeps the reports' stacks readable, and
# GCC instruments -O3 code at more than twice the compile time (111 s against 49 s for
# tests/test_reports_compare.cpp), which made this build 35 minutes of CI's 90 on 2 cores.
# The torch peer is left out too: libtorch is not instrumented, its plugin is a thin layer over
# it, and each test process that loaded it would pay libtorch's start-up again under ASan.
#
#   tools/sanitize.sh [extra cmake options]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g1"
start=$(date +%s)
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Release -DOPBENCH_WITH_CUDA=OFF -DOPBENCH_WITH_TORCH=OFF \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_C_FLAGS_RELEASE="-O1 -DNDEBUG" -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" "$@"
cmake --build build-asan -j "$(nproc)"
built=$(date +%s)
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir build-asan --output-on-failure -j "$(nproc)" -LE build
echo "sanitize: build $((built - start)) s, tests $(($(date +%s) - built)) s"
