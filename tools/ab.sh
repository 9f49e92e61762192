#!/usr/bin/env bash
# tools/ab.sh REV_A REV_B [opbench ab options]: builds two revisions of opbench, each in a git
# worktree of its own under out/ab/ (kept, so a second call rebuilds only what changed), with the
# same configuration as tools/build.sh (tests off), then runs the new build's `opbench ab` with
# the base build's opbench as --base: both builds' repetitions interleaved in one run.
#   tools/ab.sh main HEAD --suite norm --repetitions 9
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: tools/ab.sh REV_A REV_B [opbench ab options]" >&2
  exit 2
fi
rev_a=$1
rev_b=$2
shift 2
cd "$(dirname "$0")/.."
repo=$(pwd)
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi

# The opbench of revision $1, built in out/ab/<commit>; prints its path.
build_rev() {
  local commit
  if ! commit=$(git -C "$repo" rev-parse --verify --quiet "$1^{commit}"); then
    echo "tools/ab.sh: '$1' is not a revision of this repository" >&2
    exit 2
  fi
  local tree="$repo/out/ab/$commit"
  if [ ! -d "$tree" ]; then
    mkdir -p "$repo/out/ab"
    git -C "$repo" worktree add --detach --quiet "$tree" "$commit" >&2
  fi
  cmake -S "$tree" -B "$tree/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >&2
  cmake --build "$tree/build" -j "$(nproc)" --target opbench >&2
  echo "$tree/build/tools/opbench"
}

base=$(build_rev "$rev_a")
new=$(build_rev "$rev_b")
echo "tools/ab.sh: base $rev_a ($base), new $rev_b ($new)" >&2
exec "$new" ab --base "$base" --new "$new" "$@"
