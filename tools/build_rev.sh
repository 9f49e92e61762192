#!/usr/bin/env bash
# tools/build_rev.sh REV: builds the opbench of revision REV of this repository in a git worktree
# of its own, out/ab/<commit>/ (kept, so a second call rebuilds only what changed), with the
# configuration of tools/build.sh (Release, CUDA when nvcc is found; tests off), and prints the
# path of its opbench as the last line of stdout. The build's own output goes to stderr.
# Used by tools/ab.sh and by `opbench nightly --ab-baseline`.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: tools/build_rev.sh REV" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
repo=$(pwd)
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
if ! commit=$(git -C "$repo" rev-parse --verify --quiet "$1^{commit}"); then
  echo "tools/build_rev.sh: '$1' is not a revision of this repository ($repo)" >&2
  exit 2
fi
tree="$repo/out/ab/$commit"
if [ ! -d "$tree" ]; then
  mkdir -p "$repo/out/ab"
  git -C "$repo" worktree add --detach --quiet "$tree" "$commit" >&2
fi
cmake -S "$tree" -B "$tree/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >&2
cmake --build "$tree/build" -j "$(nproc)" --target opbench >&2
echo "$tree/build/tools/opbench"
