#!/usr/bin/env bash
# Installs the Debian packages opbench needs, only those that are missing.
# CUDA is not a Debian package here: nvcc is used when it is on PATH or in /usr/local/cuda.
#   tools/install_deps.sh          what setup, build and tests need
#   tools/install_deps.sh --fuzz   also clang with libFuzzer and its sanitizer runtimes (tools/fuzz.sh)
#   tools/install_deps.sh --torch  also libtorch, for the optional `torch` peer (PyTorch 1.13): 188
#                                  packages, 566 MiB installed, so not part of the default set
set -euo pipefail
packages=(
  cmake g++ make git pkg-config
  libbenchmark-dev libopenblas-dev nlohmann-json3-dev libboost-program-options-dev libgtest-dev
  libfftw3-dev                                 # FFTW, the Fourier-domain norms' CPU FFTs
  libdnnl-dev                                  # optional peer (oneDNN), found automatically
  ocl-icd-opencl-dev                           # oneDNN's CMake config requires OpenCL; libdnnl-dev
                                               # only recommends it, and we skip recommends
  libfaiss-dev                                 # optional peer (FAISS), found automatically
  libbenchmark-tools python3-scipy             # Google Benchmark's compare.py reads our reports
  python3-jsonschema python3-numpy             # report schema and .npy compatibility tests
  python3-yaml                                 # deploy/'s Kubernetes and CI templates, parsed
                                               # in a test (slurm-wlm and munge, for the Slurm
                                               # test, are left out: installing them enables and
                                               # starts system services; that test skips)
  chromium                                     # renders the HTML report headless in a test
)
for option in "$@"; do
  case "$option" in
    --fuzz) packages+=(clang libclang-rt-14-dev libomp-14-dev) ;;  # libFuzzer, ASan/UBSan, OpenMP
    --torch) packages+=(libtorch-dev) ;;  # the torch peer, found automatically by the next build
    *)
      echo "install_deps: unknown option '$option' (use --fuzz, --torch or nothing)" >&2
      exit 2
      ;;
  esac
done
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all packages present"
  exit 0
fi
echo "install_deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
