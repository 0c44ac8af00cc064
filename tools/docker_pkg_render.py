"""Renders a catalog with docker-pkg 4.0.4's own code, without a Docker daemon.

Used by the tests as the reference: `python docker_pkg_render.py CONFIG DIR`
prints {"images": {name: {"label", "depends", "dir", "dockerfile", "error"}}},
the schema of `dockyard render --format json`. Scanning follows
docker_pkg.builder.DockerBuilder.scan; rendering is docker_pkg's
TemplateEngine with the config docker_pkg.cli.read_config builds.
"""
import json
import os
import sys

from debian.changelog import Changelog
from docker_pkg import ImageLabel, cli, dockerfile, image


class NoDriver:
    label = None


def main(config_path, root):
    config = cli.read_config(config_path)
    roots = []
    for path, _, files in os.walk(root):
        if "Dockerfile.template" in files and "changelog" in files:
            roots.append(path)
    images = {}
    for path in sorted(roots):
        rel = os.path.relpath(path, root)
        try:
            img = image.DockerImage(path, NoDriver(), config)
        except Exception as e:  # a broken changelog or control
            images[os.path.basename(path)] = {"label": None, "depends": [], "dir": rel, "dockerfile": None, "error": repr(e)}
            continue
        images[img.short_name] = {"img": img, "label": img.image, "depends": img.depends, "dir": rel}
    known = set(config.get("base_images", []))
    known.update(v["label"] for v in images.values() if v["label"])
    dockerfile.TemplateEngine.setup(config, known)
    for name, entry in images.items():
        img = entry.pop("img", None)
        if img is None:
            continue
        try:
            entry["dockerfile"] = img.render_dockerfile()
            entry["error"] = None
        except Exception as e:
            entry["dockerfile"] = None
            entry["error"] = repr(e)
    json.dump({"images": images}, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
