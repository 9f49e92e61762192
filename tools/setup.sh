#!/usr/bin/env bash
# The main job: install what is missing, build, run every suite at quick sizes, and write the
# JSON report and its summary to out/. Prints what each phase took at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
tools/install_deps.sh
t1=$(date +%s)
tools/build.sh
t2=$(date +%s)
mkdir -p out
status=0
build/tools/opbench run --json out/opbench-report.json "$@" || status=$?
if [ -f out/opbench-report.json ]; then
  build/tools/opbench report out/opbench-report.json -o out/opbench-report.html
  echo "HTML page: out/opbench-report.html"
fi
t3=$(date +%s)
echo "setup: install $((t1 - t0)) s, build $((t2 - t1)) s, main job $((t3 - t2)) s"
exit $status
