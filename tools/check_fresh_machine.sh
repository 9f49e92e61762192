#!/usr/bin/env bash
# Proves the README's promise on a fresh Debian machine: builds a clean Debian root with
# debootstrap, puts a clean clone of one commit into it, and runs exactly the README's two
# commands there as a new user would (root, nothing installed by hand, no nvcc):
#
#   tools/setup.sh   must print the run summary and write out/opbench-report.json and .html
#   tools/test.sh    must pass
#
# and the CUDA backend must be skipped cleanly (no nvcc in a fresh root). Prints each step's time
# and the summary line of each command; exits non-zero on any failure, with the failing log's
# tail. The full logs stay in out/fresh-machine/.
#
#   sudo tools/check_fresh_machine.sh [--commit REV] [--suite bookworm] [--mirror URL]
#                                     [--security URL] [--logs DIR] [--keep]
#
# The Debian archive is the one this machine's own apt sources name (deb.debian.org otherwise).
# Everything is mounted inside a private mount namespace (unshare), so nothing it mounts can
# outlive it or be seen by the rest of the machine; the root is removed at the end, also when
# interrupted (--keep leaves it for inspection). Exit codes: 0 good, 1 a check failed, 2 bad usage.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
me="check_fresh_machine"

usage_error() {
  echo "$me: $1" >&2
  exit 2
}

# ------------------------------------------------------------------------------------------------
# The part that runs inside the private mount namespace (re-executed by the outer part below).
# ------------------------------------------------------------------------------------------------
if [ "${1:-}" = "--inside-namespace" ]; then
  shift
  work="$1" commit="$2" suite="$3" mirror="$4" security="$5" updates="$6" logs="$7"
  root="$work/root"
  mounted=()
  unmount_all() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
      umount -l "${mounted[$i]}" 2>/dev/null || true
    done
    mounted=()
  }
  trap unmount_all EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  failed=0
  fail() {
    echo "FAIL: $1"
    failed=1
  }

  # step NAME LOG COMMAND...: runs COMMAND with its output in LOG, prints the time it took.
  step() {
    local name="$1" log="$2" start rc=0
    shift 2
    start=$(date +%s)
    printf '%-44s' "$name"
    "$@" >"$log" 2>&1 || rc=$?
    printf '%5d s%s\n' "$(($(date +%s) - start))" "$([ $rc -eq 0 ] || echo "  FAILED (exit $rc)")"
    if [ $rc -ne 0 ]; then
      echo "---- last 40 lines of $log ----"
      tail -n 40 "$log"
      echo "----"
    fi
    return $rc
  }

  in_root() {
    local env=(HOME=/root "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
               LANG=C.UTF-8 TERM=dumb)
    local v
    for v in http_proxy https_proxy no_proxy; do
      [ -n "${!v:-}" ] && env+=("$v=${!v}")
    done
    chroot "$root" /usr/bin/env -i "${env[@]}" bash -c "cd /root/opbench && $1"
  }

  mount_in_root() {  # mount_in_root TARGET mount-arguments...
    local target="$root$1"
    shift
    mkdir -p "$target"
    mount "$@" "$target"
    mounted+=("$target")
  }

  step "debootstrap $suite (minbase)" "$logs/1-debootstrap.log" \
    debootstrap --variant=minbase "$suite" "$root" "$mirror" || exit 1

  {
    echo "deb $mirror $suite main"
    [ "$updates" = yes ] && echo "deb $mirror $suite-updates main"
    [ -n "$security" ] && echo "deb $security $suite-security main"
  } >"$root/etc/apt/sources.list"
  cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

  step "clean clone of ${commit:0:12}" "$logs/2-clone.log" bash -c \
    "git clone -q --no-local '$repo' '$root/root/opbench' &&
     git -C '$root/root/opbench' checkout -q --detach '$commit'" || exit 1

  mount_in_root /proc -t proc proc
  mount_in_root /sys -t sysfs sysfs
  mount_in_root /dev --bind /dev
  mount_in_root /dev/pts --bind /dev/pts
  mount_in_root /dev/shm -t tmpfs -o mode=1777 tmpfs  # Chromium needs a writable /dev/shm

  # What tools/setup.sh must leave behind: the summary, the report and the page, and a CUDA
  # backend that says it was skipped.
  check_setup_outputs() {
    summary=$(grep -E '^[0-9]+ cases, ' "$logs/3-setup.log" | tail -n 1 || true)
    echo "  summary: ${summary:-(no summary line)}"
    phases=$(grep -E '^setup: install ' "$logs/3-setup.log" | tail -n 1 || true)
    [ -z "$phases" ] || echo "  ${phases#setup: }"
    [ -n "$summary" ] || fail "tools/setup.sh printed no run summary"
    for f in out/opbench-report.json out/opbench-report.html; do
      [ -s "$root/root/opbench/$f" ] || fail "tools/setup.sh did not write $f"
    done
    grep -q '</html>' "$root/root/opbench/out/opbench-report.html" 2>/dev/null ||
      fail "out/opbench-report.html is not a whole page"

    # No nvcc in a fresh root: the CUDA backend must say it was skipped, everywhere it is named.
    cuda_line=$(grep -m1 'opbench CUDA backend:' "$logs/3-setup.log" || true)
    echo "  ${cuda_line#-- }"
    case "$cuda_line" in
      *"CUDA backend: skipped: nvcc not found"*) ;;
      *) fail "configure did not skip the CUDA backend cleanly" ;;
    esac
    grep -E 'opbench (oneDNN|FAISS|libtorch) peer:' "$logs/3-setup.log" | sed 's/^-- /  /' || true
    report_cuda=$(in_root "python3 -c 'import json; print(json.load(open(\"out/opbench-report.json\"))[\"opbench\"][\"build\"][\"cuda\"])'" 2>&1 || true)
    case "$report_cuda" in
      skipped:*) ;;
      *) fail "the report's build.cuda does not say skipped: $report_cuda" ;;
    esac
    list_cuda=$(in_root "build/tools/opbench list --suite norm" 2>&1 | grep -E '^  cuda ' || true)
    case "$list_cuda" in
      *"NOT available"*) ;;
      *) fail "opbench list does not show the cuda backend as not available: $list_cuda" ;;
    esac
  }

  if step "tools/setup.sh (install, build, main job)" "$logs/3-setup.log" in_root tools/setup.sh; then
    check_setup_outputs
  else
    fail "tools/setup.sh (the checks of its outputs are skipped)"
  fi
  if step "tools/test.sh (install, build, tests)" "$logs/4-test.log" in_root tools/test.sh; then
    :
  else
    fail "tools/test.sh"
  fi
  tests_line=$(grep -E 'tests passed, [0-9]+ tests failed out of' "$logs/4-test.log" | tail -n 1 || true)
  skipped_tests=$(grep -c '(Skipped)$' "$logs/4-test.log" || true)
  echo "  summary: ${tests_line:-(no summary line)}, $skipped_tests skipped"
  [ -n "$tests_line" ] || fail "tools/test.sh printed no CTest summary"

  exit $failed
fi

# ------------------------------------------------------------------------------------------------
# The outer part: checks, the work folder, the namespace, and the clean-up.
# ------------------------------------------------------------------------------------------------
commit=HEAD
suite=bookworm
mirror=""
security=""
logs="$repo/out/fresh-machine"
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --commit | --suite | --mirror | --security | --logs)
      [ $# -ge 2 ] || usage_error "$1 needs a value"
      case "$1" in
        --commit) commit="$2" ;;
        --suite) suite="$2" ;;
        --mirror) mirror="$2" ;;
        --security) security="$2" ;;
        --logs) logs="$2" ;;
      esac
      shift 2
      ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) usage_error "unknown argument '$1' (see --help)" ;;
  esac
done

[ "$(id -u)" -eq 0 ] || usage_error "must run as root (debootstrap, mount and chroot need it): sudo $0"

resolved=$(git -C "$repo" rev-parse --verify -q "$commit^{commit}") ||
  usage_error "--commit $commit: not a commit of $repo"
commit="$resolved"
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
  echo "$me: note: uncommitted changes in $repo are not part of the check (it clones ${commit:0:12})"
fi

# Every "URI SUITE" pair of this machine's apt sources, one-line and deb822 forms alike.
apt_entries() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
                       print $i, $(i + 1) }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
         { uris = ""; suites = ""; types = ""; enabled = "yes"
           for (j = 1; j <= NF; j++) {
             line = $j
             if (line ~ /^#/) continue
             if (sub(/^URIs:[ \t]*/, "", line)) uris = line
             else if (sub(/^Suites:[ \t]*/, "", line)) suites = line
             else if (sub(/^Types:[ \t]*/, "", line)) types = line
             else if (sub(/^Enabled:[ \t]*/, "", line)) enabled = line
           }
           if (types !~ /(^| )deb( |$)/ || enabled == "no") next
           n = split(uris, u, " "); m = split(suites, s, " ")
           for (a = 1; a <= n; a++) for (b = 1; b <= m; b++) print u[a], s[b] }' "$f"
  done
}
entries=$(apt_entries)
uri_for() { awk -v s="$1" '$2 == s { print $1; exit }' <<<"$entries"; }
[ -n "$mirror" ] || mirror=$(uri_for "$suite")
[ -n "$security" ] || security=$(uri_for "$suite-security")
updates=no
[ -n "$(uri_for "$suite-updates")" ] && updates=yes
if [ -z "$mirror" ]; then
  mirror=http://deb.debian.org/debian
  security=${security:-http://deb.debian.org/debian-security}
  updates=yes
  echo "$me: no '$suite' archive in this machine's apt sources; using $mirror"
fi

# Host tools: debootstrap and the archive keyring it checks signatures with.
need=()
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v git >/dev/null 2>&1 || need+=(git)
if [ ${#need[@]} -gt 0 ]; then
  echo "$me: installing ${need[*]} on this machine"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Roots left by a run that was killed outright (SIGKILL gives no chance to clean up): removed
# when their owner is gone and nothing is mounted under them.
for old in /var/tmp/opbench-fresh.*; do
  [ -f "$old/owner.pid" ] || continue
  pid=$(cat "$old/owner.pid")
  if ! kill -0 "$pid" 2>/dev/null && ! findmnt -rn -o TARGET | grep -q "^$old/"; then
    rm -rf --one-file-system "$old"
  fi
done

mkdir -p "$logs"
rm -f "$logs"/*.log
work=$(mktemp -d /var/tmp/opbench-fresh.XXXXXX)
echo $$ >"$work/owner.pid"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$keep" = 1 ]; then
    echo "$me: the root is kept in $work/root"
  elif findmnt -rn -o TARGET | grep -q "^$work/"; then
    # Only possible if the namespace leaked a mount: never remove through a mount.
    echo "$me: something is still mounted under $work; not removing it" >&2
  else
    rm -rf --one-file-system "$work"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "$me: commit ${commit:0:12}, Debian $suite from $mirror${security:+ (security: $security)}"
echo "$me: logs in $logs"
start=$(date +%s)
rc=0
unshare --mount --propagation private -- \
  "$repo/tools/check_fresh_machine.sh" --inside-namespace "$work" "$commit" "$suite" "$mirror" "$security" "$updates" "$logs" ||
  rc=$?
total=$(($(date +%s) - start))
if [ $rc -eq 0 ]; then
  echo "$me: passed in $((total / 60))m$((total % 60))s"
else
  echo "$me: FAILED after $((total / 60))m$((total % 60))s (logs in $logs)"
  [ $rc -eq 130 ] || [ $rc -eq 143 ] || rc=1
fi
exit $rc
