#!/usr/bin/env bash
# The device check, run on the lent GPU machine from the repository root after unpacking the
# bundle of tools/gpu_bundle.sh: the card's state, every CUDA test program, `opbench check` and
# `opbench run` of the CUDA backend (isolated), and PyTorch's LayerNorm/RMSNorm on the quick
# shapes as a peer. Everything goes to $OUT (8 files at most come back), each step bounded so the
# whole ends in about 7 minutes even when one hangs.
set -u
o=${OUT:-/tmp/opbench-gpu-check}
mkdir -p "$o"
export PYTHONUNBUFFERED=1
t0=$(date +%s)
elapsed() { echo $(($(date +%s) - t0)); }
{ nvidia-smi; nvidia-smi -q -d CLOCK,PERFORMANCE | head -60; } >"$o/smi.txt" 2>&1
{
  for t in test_kernels_cuda_backend test_kernels_cuda_streams test_harness_cuda test_kernels_cuda \
    test_kernels_cuda_fff test_kernels_cuda_pkm test_kernels_cuda_scan; do
    if [ "$(elapsed)" -gt 150 ]; then
      echo "=== $t not run: out of time"
      continue
    fi
    echo "=== $t ($(elapsed) s)"
    timeout 60 .gpu/run "$t" --gtest_brief=1 2>&1 | tail -200
    echo "=== $t exit ${PIPESTATUS[0]}"
  done
  echo "tests done at $(elapsed) s"
} >"$o/tests.log" 2>&1
timeout 60 .gpu/run opbench check --backend cuda --json "$o/check.json" >"$o/check.log" 2>&1
echo "check exit $? at $(elapsed) s" >>"$o/check.log"
left=$((410 - $(elapsed)))
[ "$left" -lt 60 ] && left=60
timeout "$left" .gpu/run opbench run --backend cuda --isolate --json "$o/gpu.json" >"$o/run.log" 2>&1
echo "run exit $? at $(elapsed) s" >>"$o/run.log"
timeout 60 python3 .gpu/torch_norm_peer.py 64x4096 4096x4096 >"$o/torch.txt" 2>&1
echo "torch exit $? at $(elapsed) s" >>"$o/torch.txt"
