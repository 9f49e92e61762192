#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang, ASan + UBSan, CUDA off) into build-fuzz/ and runs
# each for a given time, one after another with one job each.
#
#   tools/fuzz.sh [SECONDS per target, default 60] [TARGET...]   (targets: npy report spec
#                                                                 compare_html journal; default all)
#
# Seeds come from tests/fuzz/<target>/ (small valid files of each kind, read only; compare_html
# shares report's); the inputs a
# run finds interesting are kept in out/fuzz/corpus/<target>/ for the next run, and a crash, leak
# or hang (an input taking over 10 s) is written to out/fuzz/findings/<target>/ with its log in
# out/fuzz/<target>.log. Prints executions and findings per target; exits 1 when any target found
# something, 2 on bad usage. OPBENCH_SKIP_BUILD=1 uses build-fuzz/ as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
[ $# -gt 0 ] && shift
case "$seconds" in
  '' | *[!0-9]*) echo "fuzz: SECONDS must be a whole number, got '$seconds'" >&2; exit 2 ;;
esac
all=(npy report spec compare_html journal)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz: unknown target '$t' (${all[*]})" >&2; exit 2; }
done

mkdir -p out/fuzz
if [ "${OPBENCH_SKIP_BUILD:-0}" != "1" ]; then
  tools/install_deps.sh --fuzz
  if ! { CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Release -DOPBENCH_FUZZ=ON \
           -DOPBENCH_WITH_CUDA=OFF -DOPBENCH_WITH_ONEDNN=OFF -DOPBENCH_WITH_FAISS=OFF \
           -DOPBENCH_WITH_TORCH=OFF -DBUILD_TESTING=OFF &&
         cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]/#/fuzz_}"; } \
       >out/fuzz/build.log 2>&1; then
    echo "fuzz: the build failed; last lines of out/fuzz/build.log:" >&2
    tail -n 40 out/fuzz/build.log >&2
    exit 1
  fi
fi

status=0
for t in "${targets[@]}"; do
  corpus="out/fuzz/corpus/$t" findings="out/fuzz/findings/$t" log="out/fuzz/$t.log"
  rm -rf "$findings"
  mkdir -p "$corpus" "$findings"
  seeds="tests/fuzz/$t" dict=(-dict="fuzz/$t.dict")
  if [ "$t" = compare_html ]; then  # the same reports, one step further
    seeds="tests/fuzz/report" dict=(-dict=fuzz/report.dict)
  fi
  rc=0 start=$(date +%s)
  build-fuzz/fuzz/"fuzz_$t" "$corpus" "$seeds" "${dict[@]}" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2560 -print_final_stats=1 \
    -artifact_prefix="$findings/" >"$log" 2>&1 || rc=$?
  took=$(($(date +%s) - start))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  found=$(find "$findings" -type f | wc -l)
  printf 'fuzz_%-13s %10s executions in %s s, corpus %s inputs, findings: %s\n' "$t" \
    "${runs:-?}" "$took" "$(find "$corpus" -type f | wc -l)" "$found"
  if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
    status=1
    echo "---- fuzz_$t (exit $rc): last lines of $log ----"
    tail -n 30 "$log"
  fi
done
exit $status
