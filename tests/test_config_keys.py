"""Every config key irnet_wsis adds is read somewhere: its name appears as an attribute or string in the
package or the tools outside the files that define the keys. Detectron2's own keys and those of its DeepLab
project (read by detectron2.projects.deeplab) are not ours."""
import os
import re

from detectron2.config import get_cfg
from detectron2.projects.deeplab import add_deeplab_config

from irnet_wsis.config import add_irnet_config
from irnet_wsis.semantic import add_semantic_config

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DEFINING = {os.path.join("irnet_wsis", "config.py"), os.path.join("irnet_wsis", "semantic.py")}


def _leaves(node, prefix=""):
    for key, value in node.items():
        path = f"{prefix}{key}"
        if hasattr(value, "items"):
            yield from _leaves(value, path + ".")
        else:
            yield path


def _sources():
    text = []
    for folder in ("irnet_wsis", "tools"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
            for name in files:
                path = os.path.join(dirpath, name)
                if name.endswith(".py") and os.path.relpath(path, ROOT) not in DEFINING:
                    with open(path) as f:
                        text.append(f.read())
    with open(os.path.join(ROOT, "irnet_wsis", "semantic.py")) as f:  # its from_config reads keys too
        text.append(f.read().split("def add_semantic_config", 1)[0])
    return "\n".join(text)


def test_every_added_key_is_read():
    theirs = get_cfg()
    add_deeplab_config(theirs)
    base = set(_leaves(theirs))
    cfg = get_cfg()
    add_irnet_config(cfg)
    add_semantic_config(cfg)
    added = sorted(set(_leaves(cfg)) - base)
    assert len(added) > 50
    source = _sources()
    unread = [k for k in added if not re.search(r"[.\"']" + re.escape(k.rsplit(".", 1)[-1]) + r"\b", source)]
    assert unread == []
