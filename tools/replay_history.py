#!/usr/bin/env python3
"""Replays the corpus snapshots as git history (one image folder per
commit between two snapshots) and times `dockyard impact` on each commit.

    tools/replay_history.py CORPUS REPO DOCKYARD

Each change is timed twice: in the repository as the commits left it
(every object loose, as after local work), and after `git gc` (packed, as
a fresh clone is, which is what a pre-merge gate checks out).
"""
import collections
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

corpus, repo, bin = sys.argv[1], sys.argv[2], sys.argv[3]
snapshots = [  # date order
    "integration-config-history/63c70cb5005908cb544291824fe961c0d82e5db5",
    "integration-config-history/abbe7bf2cbea31a7f8fff653ec97c442ce7aa39b",
    "integration-config-history/e6ee721afc4a6275137d48589ce873bd10b65f7a",
    "integration-config",
]
env = dict(os.environ, GIT_AUTHOR_NAME="r", GIT_AUTHOR_EMAIL="r@e", GIT_COMMITTER_NAME="r",
           GIT_COMMITTER_EMAIL="r@e", XDG_CONFIG_HOME="/nonexistent")


def git(*args):
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, env=env, text=True).stdout


def sync(src, dst):
    if os.path.exists(dst):
        shutil.rmtree(dst)
    if os.path.exists(src):
        shutil.copytree(src, dst)


def commit(msg):
    git("add", "-A")
    if git("status", "--porcelain").strip():
        git("commit", "-q", "-m", msg)
        return True
    return False


os.makedirs(repo)
git("init", "-q", "-b", "main")
first = os.path.join(corpus, snapshots[0])
sync(os.path.join(first, "dockerfiles"), os.path.join(repo, "dockerfiles"))
sync(os.path.join(first, "jjb"), os.path.join(repo, "jjb"))
commit("snapshot 0")
for snap in snapshots[1:]:
    src = os.path.join(corpus, snap)
    names = sorted(set(os.listdir(os.path.join(src, "dockerfiles"))) | set(os.listdir(os.path.join(repo, "dockerfiles"))))
    for name in names:
        if name == "config.yaml":
            continue
        sync(os.path.join(src, "dockerfiles", name), os.path.join(repo, "dockerfiles", name))
        commit(f"{snap}: {name}")
    shutil.copy(os.path.join(src, "dockerfiles", "config.yaml"), os.path.join(repo, "dockerfiles", "config.yaml"))
    commit(f"{snap}: config.yaml")
    sync(os.path.join(src, "jjb"), os.path.join(repo, "jjb"))
    commit(f"{snap}: jjb")

commits = git("rev-list", "--reverse", "HEAD").split()[1:]


def run_all():
    times, classes, pins, failing = [], collections.Counter(), collections.Counter(), 0
    for c in commits:
        t = time.perf_counter()
        out = subprocess.run([bin, "impact", "--repo", repo, "--base", f"{c}~1", "--head", c, "--format", "json"],
                             capture_output=True, env=env, text=True)
        times.append(time.perf_counter() - t)
        if out.returncode not in (0, 1):
            print("impact failed:", out.stderr, file=sys.stderr)
            sys.exit(1)
        r = json.loads(out.stdout)
        failing += out.returncode == 1
        for i in r["images"]:
            classes[i["change"]] += 1
        for p in r["pins"]:
            pins[p["impact"]] += 1
    times.sort()
    return times, classes, pins, failing


def summary(times):
    return (f"median {statistics.median(times)*1000:.1f} ms, p90 {times[int(len(times)*0.9)]*1000:.1f} ms,"
            f" max {times[-1]*1000:.1f} ms")


loose, classes, pins, failing = run_all()
git("gc", "-q")
packed, classes2, pins2, _ = run_all()
assert (classes, pins) == (classes2, pins2), "packing the repository changed the answers"
print(f"impact over the replayed history of the Wikimedia catalog: {len(commits)} changes classified")
print(f"  image classes: {dict(classes)}")
print(f"  pin findings: {dict(pins)}; {failing} changes would fail the gate")
print("  time per change, whole process, both revisions read from git and rendered:")
print(f"    packed repository (a clone, as the gate has): {summary(packed)}")
print(f"    loose objects (as local commits leave them):  {summary(loose)}")
