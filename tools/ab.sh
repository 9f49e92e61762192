#!/usr/bin/env bash
# tools/ab.sh REV_A REV_B [opbench ab options]: builds two revisions of opbench, each in a git
# worktree of its own under out/ab/ (tools/build_rev.sh: kept, so a second call rebuilds only what
# changed), then runs the new build's `opbench ab` with the base build's opbench as --base: both
# builds' repetitions interleaved in one run.
#   tools/ab.sh main HEAD --suite norm --repetitions 9
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: tools/ab.sh REV_A REV_B [opbench ab options]" >&2
  exit 2
fi
rev_a=$1
rev_b=$2
shift 2
here="$(dirname "$0")"
base=$("$here/build_rev.sh" "$rev_a" | tail -n 1)
new=$("$here/build_rev.sh" "$rev_b" | tail -n 1)
echo "tools/ab.sh: base $rev_a ($base), new $rev_b ($new)" >&2
exec "$new" ab --base "$base" --new "$new" "$@"
