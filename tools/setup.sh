#!/usr/bin/env bash
# The main job: install what is missing, build, run every suite at quick sizes, and write the
# JSON report and its summary to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
tools/build.sh
mkdir -p out
status=0
build/tools/opbench run --json out/opbench-report.json "$@" || status=$?
if [ -f out/opbench-report.json ]; then
  build/tools/opbench report out/opbench-report.json -o out/opbench-report.html
  echo "HTML page: out/opbench-report.html"
fi
exit $status
