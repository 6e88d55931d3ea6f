#!/usr/bin/env python
"""Relation labels from a folder of semantic label PNGs (a second round of IRNet on its own labels).

Reads ``<SOURCE>/<image id>.png`` (uint8, 0 background, c + 1 class c: the ``semantic`` stage of another work
directory), marks ``--band`` pixels on each side of every label border as ignored (255), subsamples by
``RELATIONS.OUTPUT_STRIDE`` and writes ``relations/<image id>.png`` into ``PIPELINE.WORK_DIR``, so that
``--stages train_irnet,...`` trains IRNet on them instead of on relations mined from the CAMs.

    python benchmarks/relations_from_labels.py --config-file configs/coco/lite2_pseudo.yaml \\
        --source W/semantic --band 2 PIPELINE.WORK_DIR W2    # then W's cam and cams linked into W2
"""
import argparse
import os
import sys

import numpy as np
from scipy import ndimage
from tqdm import tqdm

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def relation_labels(labels, band, stride):
    """uint8 (H, W) class labels -> uint8 (ceil(H/stride), ceil(W/stride)): each label eroded by ``band``
    pixels (255 where none is left), then every ``stride``-th pixel."""
    out = np.full(labels.shape, 255, np.uint8)
    for value in np.unique(labels):
        core = labels == value
        if band > 0:
            core = ndimage.binary_erosion(core, iterations=band, border_value=1)
        out[core] = value
    return out[::stride, ::stride]


def main(argv=None):
    import irnet_wsis
    from irnet_wsis.config import setup_cfg
    from irnet_wsis.engine.per_image import atomic_save_png, output_path
    from irnet_wsis.engine.work_dir import stage_records, work_paths
    from irnet_wsis.evaluation.pseudo_quality import read_label_png

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--source", required=True, help="folder of <image id>.png class label maps")
    parser.add_argument("--band", type=int, default=2, help="ignored pixels on each side of a label border")
    parser.add_argument("opts", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cfg = setup_cfg(args.config_file, args.opts)
    irnet_wsis.data.builtin.register_from_cfg(cfg)
    relations = work_paths(cfg)["relations"]
    for record in tqdm(stage_records(cfg), desc="relations from labels", mininterval=2.0):
        labels = read_label_png(output_path(args.source, record["image_id"], ".png"), record["image_id"])
        atomic_save_png(output_path(relations, record["image_id"], ".png"),
                        relation_labels(labels, args.band, cfg.RELATIONS.OUTPUT_STRIDE))


if __name__ == "__main__":
    main()
