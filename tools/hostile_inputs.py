#!/usr/bin/env python3
"""Writes worst-case repositories for benches/hostile.sh: one repository per
case, each with a single file at (or just under) its size limit, and, with
--spread MB, a repository with MB megabytes of pins over many files."""
import os
import sys

REG = "reg.example/ci/"
CHANGELOG = "base (2.0) w; urgency=low\n\n  * x\n\n -- T <t@e.org>  Mon, 01 Jan 2024 00:00:00 +0000\n\n" \
            "base (1.0) w; urgency=low\n\n  * x\n\n -- T <t@e.org>  Sun, 31 Dec 2023 00:00:00 +0000\n"
MIB = 1 << 20


def repo(root, files):
    base = {
        "dockerfiles/config.yaml": "registry: reg.example\nnamespace: ci\n",
        "dockerfiles/base/Dockerfile.template": "FROM scratch\n",
        "dockerfiles/base/changelog": CHANGELOG,
        "jjb/a.yaml": "x: reg.example/ci/base:1.0\n",
    }
    base.update(files)
    for path, text in base.items():
        p = os.path.join(root, path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)


def fill(unit, limit):
    return unit * (limit // len(unit))


def cases(out):
    c = {}
    c["pins-one-line"] = {"jjb/a.yaml": fill(REG + "base:1.0 ", 4 * MIB - 16)}
    c["pins-lines"] = {"jjb/a.yaml": fill("x: " + REG + "base:1.0\n", 4 * MIB - 16)}
    scope = ["- project:\n    a: [1, 2, 3, 4]\n    b: [x, y]\n    v: '1.0'\n    jobs:\n"]
    line = "      - j: {image: '" + REG + "base-{a}-{b}:{v}'}\n"
    scope.append(fill(line, 4 * MIB - 200))
    c["placeholders"] = {"jjb/a.yaml": "".join(scope)}
    c["includes"] = {"jjb/a.yaml": fill("x: !include-raw: missing.sh\n", 4 * MIB - 16)}
    c["includes-one-line"] = {"jjb/a.yaml": fill("!include-raw: ", 4 * MIB - 16)}
    bomb = ["registry: reg.example\nnamespace: ci\na: &a [x, x, x, x, x, x, x, x, x, x]\n"]
    for i in range(12):
        p = "a" if i == 0 else f"l{i - 1}"
        bomb.append(f"l{i}: &l{i} [" + ", ".join([f"*{p}"] * 10) + "]\n")
    c["yaml-aliases"] = {"dockerfiles/config.yaml": "".join(bomb)}
    c["yaml-deep"] = {"dockerfiles/config.yaml": "registry: reg.example\nnamespace: ci\nx: " + "[" * 400_000 + "]" * 400_000 + "\n"}
    c["yaml-nodes"] = {"dockerfiles/config.yaml": "registry: reg.example\nnamespace: ci\nx: [" + fill("1,", MIB - 64) + "1]\n"}
    entries = [CHANGELOG.replace("2.0", f"3.{i}").replace("1.0", f"2.{i}") + "\n" for i in range(4000)]
    log = "".join(entries)[: 4 * MIB - 4096]
    c["changelog"] = {"dockerfiles/base/changelog": CHANGELOG + "\n" + log[: log.rfind("base (")],
                      "jjb/a.yaml": fill("x: " + REG + "base:1.0\n", 1 * MIB)}
    c["template-loops"] = {"dockerfiles/base/Dockerfile.template":
                           "{% set ns = namespace(s='x') %}{% for i in range(1000000) %}{% set ns.s = ns.s ~ 'x' %}{% endfor %}{{ ns.s }}\n"
                           + fill("{# padding #}", MIB - 200)}
    c["template-output"] = {"dockerfiles/base/Dockerfile.template": "{% for i in range(100000) %}" + "x" * 1000 + "{% endfor %}\n"}
    c["template-doubling"] = {"dockerfiles/base/Dockerfile.template":
                              "{% set l = [1] %}{% for i in range(64) %}{% do l.extend(l.copy()) %}{% endfor %}{{ l }}\n"}
    c["control"] = {"dockerfiles/base/control": "Package: base\nDepends: " + fill("x, ", 256 * 1024 - 64) + "x\n"}
    for name, files in c.items():
        repo(os.path.join(out, "cases", name), files)


def spread(mb, out):
    files = {}
    per_file = 100 * 1024
    line = "x: " + REG + "base:1.0\n"
    n = (mb * MIB) // per_file
    for i in range(n):
        files[f"jjb/f{i:05}.yaml"] = fill(line, per_file)
    repo(out, files)


if __name__ == "__main__":
    if sys.argv[1] == "--spread":
        spread(int(sys.argv[2]), sys.argv[3])
    else:
        cases(sys.argv[1])
