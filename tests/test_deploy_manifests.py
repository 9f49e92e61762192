#!/usr/bin/env python3
"""The fleet templates of deploy/, checked offline: the Kubernetes manifest (an Indexed Job whose
count, parallelism and OPBENCH_SHARD_COUNT agree, whose command takes the shard from
JOB_COMPLETION_INDEX, whose mounts name its volumes, and a merge Job on the same claim), the
GitHub Actions workflow (a matrix of every shard, a merge job after all of them) and the Slurm
scripts (bash syntax, the array task writing where the merge reads).

usage: test_deploy_manifests.py SOURCE_DIR; exit 0 pass, 1 fail, 77 skip (no PyYAML)."""
import os
import re
import subprocess
import sys

try:
    import yaml
except ImportError:
    # Another python3 on PATH (a virtual environment) may lack it where Debian's has it.
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("SKIP: python3-yaml not installed: apt-get install python3-yaml")
    sys.exit(77)

deploy = os.path.join(sys.argv[1], "deploy")
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)


def container(job):
    containers = job["spec"]["template"]["spec"]["containers"]
    check(len(containers) == 1, job["metadata"]["name"] + ": one container")
    return containers[0]


def command_text(c):
    return " ".join(c.get("command", []) + c.get("args", []))


def env_of(c):
    return {e["name"]: e.get("value") for e in c.get("env", [])}


def mounts_match_volumes(job, claim):
    spec = job["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    name = job["metadata"]["name"]
    paths = []
    for m in container(job).get("volumeMounts", []):
        check(m["name"] in volumes, "%s: mount %s names no volume" % (name, m["name"]))
        if m["name"] in volumes:
            pvc = volumes[m["name"]].get("persistentVolumeClaim", {})
            check(pvc.get("claimName") == claim, "%s: volume %s is not the claim %s" %
                  (name, m["name"], claim))
        paths.append(m["mountPath"])
    check(len(paths) == 1, name + ": one mount (the shared reports)")
    return paths[0] if paths else "/nonexistent"


def check_kubernetes():
    path = os.path.join(deploy, "kubernetes", "opbench-indexed-job.yaml")
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    kinds = [d["kind"] for d in docs]
    check(kinds == ["PersistentVolumeClaim", "Job", "Job"], "kubernetes: kinds " + str(kinds))
    if len(docs) != 3:
        return
    pvc, shards, merge = docs
    claim = pvc["metadata"]["name"]
    check("ReadWriteMany" in pvc["spec"]["accessModes"], "kubernetes: the claim is shared (RWX)")

    spec = shards["spec"]
    check(spec.get("completionMode") == "Indexed", "kubernetes: completionMode Indexed")
    n = spec.get("completions")
    check(isinstance(n, int) and n >= 1, "kubernetes: completions")
    check(spec.get("parallelism") == n, "kubernetes: parallelism == completions")
    check(spec["template"]["spec"].get("restartPolicy") == "Never", "kubernetes: restart Never")
    c = container(shards)
    check(env_of(c).get("OPBENCH_SHARD_COUNT") == str(n),
          "kubernetes: the shards' OPBENCH_SHARD_COUNT == completions (%s)" % n)
    text = command_text(c)
    mount = mounts_match_volumes(shards, claim)
    check(re.search(r"\bopbench run\b", text) is not None, "kubernetes: the shard runs opbench run")
    check("--shard" not in text, "kubernetes: the shard comes from JOB_COMPLETION_INDEX")
    check(re.search(r"--json %s/shard-\$\{?JOB_COMPLETION_INDEX\}?\.json" % re.escape(mount),
                    text) is not None,
          "kubernetes: each shard's report on the mount, named by its index: " + text)

    m = container(merge)
    check(env_of(m).get("OPBENCH_SHARD_COUNT") == str(n),
          "kubernetes: the merge waits for completions (%s) reports" % n)
    text = command_text(m)
    mount = mounts_match_volumes(merge, claim)
    check("opbench merge %s/shard-*.json" % mount in text, "kubernetes: merges the shards")
    check(text.find("opbench report") > text.find("opbench merge") >= 0,
          "kubernetes: renders the merged report after the merge")


def check_github():
    path = os.path.join(deploy, "github-actions", "opbench-matrix.yml")
    with open(path) as f:
        wf = yaml.safe_load(f)
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as true
    check(isinstance(on, dict) and "workflow_dispatch" in on, "github: workflow_dispatch")
    jobs = wf["jobs"]
    n = int(wf["env"]["SHARDS"])
    check(jobs["shard"]["strategy"]["matrix"]["shard"] == list(range(1, n + 1)),
          "github: the matrix lists shards 1..SHARDS")
    check(jobs["shard"]["strategy"].get("fail-fast") is False, "github: fail-fast off")
    runs = " ".join(s.get("run", "") for s in jobs["shard"]["steps"])
    check("--shard ${{ matrix.shard }}/${{ env.SHARDS }}" in runs, "github: --shard I/N")
    uploads = [s for s in jobs["shard"]["steps"] if "upload-artifact" in s.get("uses", "")]
    check(len(uploads) == 1 and uploads[0].get("if") == "${{ always() }}",
          "github: the shard's report is uploaded, also when the shard failed")
    merge = jobs["merge"]
    check(merge.get("needs") == "shard" and "always()" in merge.get("if", ""),
          "github: the merge runs after every shard, whatever their outcome")
    downloads = [s for s in merge["steps"] if "download-artifact" in s.get("uses", "")]
    check(len(downloads) == 1 and downloads[0]["with"]["pattern"] == "opbench-shard-*",
          "github: the merge downloads every shard's artifact")
    runs = " ".join(s.get("run", "") for s in merge["steps"])
    check(runs.find("opbench report") > runs.find("opbench merge") >= 0,
          "github: merge, then report")


def check_slurm():
    for name in ("opbench-array.sbatch", "opbench-merge.sbatch"):
        path = os.path.join(deploy, "slurm", name)
        r = subprocess.run(["bash", "-n", path], capture_output=True, text=True)
        check(r.returncode == 0, "slurm: %s: %s" % (name, r.stderr.strip()))
        check(os.access(path, os.X_OK), "slurm: %s is executable" % name)
    with open(os.path.join(deploy, "slurm", "opbench-array.sbatch")) as f:
        array = f.read()
    check('--json "$out/shard-$SLURM_ARRAY_TASK_ID.json"' in array,
          "slurm: each task writes shard-<task id>.json")
    check("--shard" not in array.split("set -euo pipefail")[1],
          "slurm: opbench takes the shard from the array's variables")
    check("--dependency=\"afterany:$SLURM_ARRAY_JOB_ID\"" in array,
          "slurm: the merge job waits for the whole array")


check_kubernetes()
check_github()
check_slurm()
for f in failures:
    print("FAIL: " + f)
print("PASS" if not failures else "%d problem(s)" % len(failures))
sys.exit(1 if failures else 0)
