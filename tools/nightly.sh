#!/usr/bin/env bash
# The nightly regression run: build, then `opbench nightly`, which runs the suites, stores the
# report in the history folder as DATE_MACHINE_COMMIT.json, compares it with the last good run of
# the same machine, keeps the newest runs, and rebuilds HISTORY/index.html with the trends.
#
#   tools/nightly.sh [--history DIR] [--keep N] [nightly options] [-- run options]
#
# HISTORY defaults to $OPBENCH_HISTORY, else out/history. Exit code: 0 good, 1 a regression or a
# failed run, 2 bad usage. OPBENCH_SKIP_BUILD=1 uses the existing build/ as it is.
#
# One nightly at a time per history: another one is refused at once (exit 2, nothing run) unless
# given --wait, which queues it behind the first. A nightly that is killed takes its run with it;
# what it left in the history (.incoming-PID.json) is removed by the next one.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${OPBENCH_SKIP_BUILD:-0}" != "1" ]; then
  tools/build.sh >/dev/null
fi
args=("$@")
has_history=0
for a in "${args[@]}"; do
  case "$a" in
    --history|--history=*) has_history=1 ;;
    --) break ;;
  esac
done
if [ "$has_history" = 0 ]; then
  args=(--history "${OPBENCH_HISTORY:-out/history}" "${args[@]}")
fi
exec build/tools/opbench nightly "${args[@]}"
