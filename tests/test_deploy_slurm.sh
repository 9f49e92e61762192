#!/usr/bin/env bash
# deploy/slurm/opbench-array.sbatch on a real, throw-away, single-node Slurm cluster: munged,
# slurmctld and slurmd started as root with a slurm.conf for this one node (state, sockets, logs
# and pid files in a temporary folder), the array job submitted with 3 shards of a tiny
# selection, its merge job waited for, and the merged report checked to hold every planned case,
# exactly the cases of an unsharded run. The daemons are stopped and the folder removed however
# the test ends. Skips (exit 77) without root, without the Slurm and MUNGE programs, or when the
# daemons do not come up within 30 s; every wait is bounded.
#   tests/test_deploy_slurm.sh SOURCE_DIR OPBENCH_BINARY
set -uo pipefail
export PATH=$PATH:/usr/sbin:/sbin
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

for prog in munged slurmctld slurmd sbatch squeue sinfo; do
  command -v "$prog" >/dev/null ||
    skip "slurm-wlm not installed ($prog not found): apt-get install slurm-wlm munge"
done
[ "$(id -u)" -eq 0 ] || skip "starting munged, slurmctld and slurmd needs root"
command -v python3 >/dev/null || skip "python3 not found (reads the reports)"
src=$(cd "$1" && pwd)
opbench=$(realpath "$2")

tmp=$(mktemp -d /tmp/opbench-slurm.XXXXXX)
cleanup() {
  for pidfile in slurmd slurmctld munged; do
    [ -f "$tmp/$pidfile.pid" ] && kill "$(cat "$tmp/$pidfile.pid")" 2>/dev/null
  done
  sleep 1
  for pidfile in slurmd slurmctld munged; do
    [ -f "$tmp/$pidfile.pid" ] && kill -9 "$(cat "$tmp/$pidfile.pid")" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
show_logs() {
  for log in "$tmp"/*.log "$tmp"/submit/*.log; do
    [ -f "$log" ] && { echo "--- $log"; tail -n 30 "$log"; }
  done
}

# MUNGE, Slurm's authentication, with its own key and socket.
dd if=/dev/urandom of="$tmp/munge.key" bs=1024 count=1 status=none
chmod 600 "$tmp/munge.key"
timeout 30 munged --force --key-file="$tmp/munge.key" --socket="$tmp/munge.sock" \
  --pid-file="$tmp/munged.pid" --log-file="$tmp/munged.log" --seed-file="$tmp/munged.seed" ||
  { show_logs; skip "munged did not start"; }

# A slurm.conf for this one node: no cgroups, no accounting, ports of its own.
host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.8 }' /proc/meminfo)
port=$((20000 + $$ % 20000))
mkdir -p "$tmp/ctld" "$tmp/spool" "$tmp/submit" "$tmp/out"
cat >"$tmp/slurm.conf" <<CONF
ClusterName=opbenchtest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$tmp/munge.sock
CredType=cred/munge
StateSaveLocation=$tmp/ctld
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=opbench Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$tmp/slurm.conf
timeout 30 slurmctld -i || { show_logs; skip "slurmctld did not start"; }
timeout 30 slurmd || { show_logs; skip "slurmd did not start"; }
up=""
for _ in $(seq 30); do
  state=$(sinfo -h -n "$host" -o %T 2>/dev/null)
  case "$state" in idle*) up=1; break ;; esac
  sleep 1
done
[ -n "$up" ] || { show_logs; skip "the Slurm node did not come up within 30 s (state '$state')"; }
echo "slurm up: node $host, $cpus CPUs, ${mem_mb} MB"

# The array job as a user submits it, from a folder holding deploy/ (its logs land there).
selection=(--suite norm --op layernorm,rmsnorm --axis rows=64 --axis cols=512 --min-time 0.01)
ln -s "$src/deploy" "$tmp/submit/deploy"
cd "$tmp/submit" || fail "no submit folder"
export OPBENCH=$opbench OPBENCH_OUT=$tmp/out
array=$(timeout 30 sbatch --parsable --array=0-2 deploy/slurm/opbench-array.sbatch "${selection[@]}") ||
  { show_logs; fail "sbatch refused the array job"; }
echo "submitted array job $array"

# Every job gone from the queue (the 3 tasks, then the merge the first task submitted, whose log
# is there once it ran): 180 s at most.
done_=""
for _ in $(seq 180); do
  sleep 1
  compgen -G "$tmp/submit/opbench-merge-*.log" >/dev/null || continue
  [ -z "$(squeue -h -o %i 2>/dev/null)" ] && { done_=1; break; }
done
[ -n "$done_" ] || { squeue; show_logs; fail "the jobs did not finish within 180 s"; }
show_logs | grep -E "opbench: shard|merged" || true

# The merged report holds exactly the cases of an unsharded run, in its order.
timeout 60 "$opbench" run "${selection[@]}" --json "$tmp/whole.json" >"$tmp/whole.log" 2>&1 ||
  fail "the unsharded run failed: $(tail -n 3 "$tmp/whole.log")"
python3 - "$tmp/out" "$tmp/whole.json" <<'PY' || { show_logs; fail "the merged report is wrong"; }
import glob, json, sys
out, whole = sys.argv[1], json.load(open(sys.argv[2]))
shards = sorted(glob.glob(out + "/shard-*.json"))
assert len(shards) == 3, shards
assert sorted(json.load(open(s))["opbench"]["plan"]["shard"] for s in shards) == ["1/3", "2/3", "3/3"]
merged = json.load(open(out + "/opbench-report.json"))
names = [c["name"] for c in merged["opbench"]["cases"]]
expected = [c["name"] for c in whole["opbench"]["cases"]]
plan = merged["opbench"]["plan"]
assert plan["planned"] == len(expected) == len(names), (plan["planned"], len(names))
assert names == expected, "merged cases differ from the unsharded run's"
assert [s["shard"] for s in plan["shards"]] == ["1/3", "2/3", "3/3"]
print("merged report: %d of %d planned cases from 3 shards" % (len(names), plan["planned"]))
PY
echo "PASS"
