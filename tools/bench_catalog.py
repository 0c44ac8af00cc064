#!/usr/bin/env python3
"""Writes the 30-image benchmark catalog for benches/build.sh: a busybox
base, then 4, 10 and 15 images in three levels (realistic fan-out: each
parent has two to four children), each image's RUN taking about a second.

    tools/bench_catalog.py DIR REGISTRY [SECONDS]
"""
import os
import shutil
import sys

out, registry = sys.argv[1], sys.argv[2]
secs = sys.argv[3] if len(sys.argv) > 3 else "1"
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "config.yaml"), "w") as f:
    f.write(f"registry: {registry}\nnamespace: bench\n")


def image(name, parent, body):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "changelog"), "w") as f:
        f.write(f"{name} (1.0) wikimedia; urgency=medium\n\n  * Benchmark.\n\n"
                " -- Bench <bench@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n")
    if parent:
        with open(os.path.join(d, "control"), "w") as f:
            f.write(f"Package: {name}\nDepends: {parent}\n")
        head = '{{ "%s" | image_tag }}' % parent
        with open(os.path.join(d, "Dockerfile.template"), "w") as f:
            f.write(f"FROM {head}\n{body}")
    else:
        shutil.copy("/bin/busybox", os.path.join(d, "busybox"))
        with open(os.path.join(d, "Dockerfile.template"), "w") as f:
            f.write('FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n' + body)


def work(name):
    return f"RUN sleep {secs} && echo {name} > /{name}\n"


image("base", None, work("base"))
level1 = [f"l1-{i}" for i in range(4)]
for n in level1:
    image(n, "base", work(n))
level2 = []
for i in range(10):
    n = f"l2-{i}"
    image(n, level1[i % 4], work(n))
    level2.append(n)
for i in range(15):
    n = f"l3-{i}"
    image(n, level2[(i * 2) % 10], work(n))
