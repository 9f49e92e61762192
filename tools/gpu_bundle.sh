#!/usr/bin/env bash
# Prepares the device check of a lent GPU machine (one that has the CUDA driver and PyTorch but
# none of opbench's libraries; ../shared/gpu/README.md): builds opbench and the CUDA test programs
# for sm_90 into build-gpu/ (peers off: their libraries would not fit), bundles them with
# ../shared/gpu/pack.sh, strips them, adds tools/gpu_check.sh, and compresses the bundle into
# .gpz/gpu.tar.xz (about 9 MiB; the uncompressed one is over the 64 MiB a device call carries).
# Then, in one device call with carry [".gpz"]:
#   tar -xJf .gpz/gpu.tar.xz && .gpu/gpu_check.sh
#   tools/gpu_bundle.sh [ARCH]     (default 90: H100, H200; OPBENCH_GPU_BUILD=DIR builds in DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:-90}
b=${OPBENCH_GPU_BUILD:-build-gpu}
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
tests=(test_kernels_cuda_backend test_kernels_cuda_streams test_harness_cuda test_kernels_cuda
       test_kernels_cuda_fff test_kernels_cuda_pkm test_kernels_cuda_scan)
cmake -S . -B "$b" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="$arch" \
  -DOPBENCH_WITH_ONEDNN=OFF -DOPBENCH_WITH_FAISS=OFF -DOPBENCH_WITH_TORCH=OFF >/dev/null
cmake --build "$b" -j "$(nproc)" --target opbench "${tests[@]}"
exes=("$b/tools/opbench")
for t in "${tests[@]}"; do exes+=("$b/tests/$t"); done
../shared/gpu/pack.sh "${exes[@]}" >/dev/null
strip --strip-unneeded .gpu/bin/* .gpu/lib/*
cp tools/gpu_check.sh tools/torch_norm_peer.py .gpu/
mkdir -p .gpz
grep -qx '/.gpz/' .git/info/exclude 2>/dev/null || echo '/.gpz/' >>.git/info/exclude
tar -cJf .gpz/gpu.tar.xz .gpu
du -h .gpz/gpu.tar.xz | awk '{print "tools/gpu_bundle.sh: " $2 " is " $1 "; carry .gpz"}'
