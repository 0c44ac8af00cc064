#!/usr/bin/env python3
"""Writes a production-images-sized synthetic catalog for the graph
benchmark: N images (default 136) in six layers below one base, each image
with one or two parents in the layer above (a deterministic pseudo-random
choice), names of realistic length, and a jjb/ file pinning every tenth
image (some stale), so the graph has every colour.

    tools/wide_catalog.py REPO [N]
"""
import os
import random
import sys

repo = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 136
out = os.path.join(repo, "dockerfiles")
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "config.yaml"), "w") as f:
    f.write("registry: docker-registry.example.org\nnamespace: releng\n")
rng = random.Random(136)
words = ["php", "python", "node", "java", "golang", "rust", "ruby", "tox", "composer", "maven", "sonar",
         "quibble", "bullseye", "bookworm", "buster", "coverage", "helm", "lint", "docs", "ci"]
layers = [["base"]]
sizes = [6, 18, 30, 36, 30, n - 1 - 6 - 18 - 30 - 36 - 30]
made = {"base"}
for size in sizes:
    layer = []
    while len(layer) < size:
        name = "-".join(rng.sample(words, 2)) + f"-{rng.randint(1, 99)}"
        if name not in made:
            made.add(name)
            layer.append(name)
    layers.append(layer)


def write(name, parents, versions):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "changelog"), "w") as f:
        for v in versions:
            f.write(f"{name} ({v}) wikimedia; urgency=medium\n\n  * Bench.\n\n"
                    " -- Bench <bench@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n\n")
    with open(os.path.join(d, "Dockerfile.template"), "w") as f:
        if parents:
            f.write('FROM {{ "%s" | image_tag }}\n' % parents[0])
            for p in parents[1:]:
                f.write('COPY --from={{ "%s" | image_tag }} /etc/hostname /%s\n' % (p, p))
        else:
            f.write("FROM scratch\n")
        f.write(f"RUN echo {name}\n")
    if parents:
        with open(os.path.join(d, "control"), "w") as f:
            f.write(f"Package: {name}\nDepends: {', '.join(parents)}\n")


write("base", [], ["1.0"])
pins = []
for depth, layer in enumerate(layers[1:], start=1):
    above = layers[depth - 1]
    for i, name in enumerate(layer):
        parents = sorted(set(rng.sample(above, min(len(above), rng.choice([1, 1, 2])))))
        write(name, parents, ["1.2.0-s2", "1.2.0-s1"])
        if i % 10 == 0:
            pins.append((name, "1.2.0-s1" if i % 20 == 0 else "1.2.0-s2"))
os.makedirs(os.path.join(repo, "jjb"), exist_ok=True)
with open(os.path.join(repo, "jjb", "jobs.yaml"), "w") as f:
    for name, v in pins:
        f.write(f"- job:\n    name: {name}\n    image: docker-registry.example.org/releng/{name}:{v}\n")
print(f"{sum(len(l) for l in layers)} images in {len(layers)} layers, {len(pins)} pins")
