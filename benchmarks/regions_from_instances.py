#!/usr/bin/env python
"""Instance regions from a finished run's pseudo instances (a second round of IRNet's displacement field).

For each training image, copies ``<SOURCE>/relations/<image id>.png`` (the relation labels mined from the CAMs)
into ``PIPELINE.WORK_DIR/relations`` and writes ``<image id>.regions.png`` beside it: the ids of SOURCE's pseudo
instances (stage ``synthesis``; higher scores on top) on the stride-s cells where the relation labels give the
instance's class, 0 elsewhere. ``MODEL.IRNET.DISP_PAIRS_WITHIN instance`` then trains D on the whole objects
that the first round's class boundaries and walk drew, instead of on the CAM-peak regions of
``RELATIONS.INSTANCE_REGIONS``.

``--cut T`` also cuts each instance along SOURCE's class boundary map (stage ``irnet_outputs``): its cells where
B > T are left out and the rest falls into 4-connected pieces, each its own region, so that two touching
objects the first round merged come apart where B draws a line between them.

``--min-piece F`` keeps as regions only the pieces of at least F of their instance's cells and gives the other
cells of the instance (small pieces, the cut line) to the nearest of them: B's lines inside an object do not
fragment it, a line across the whole of a merge still splits it.

``--score T1,T2,...`` writes nothing: it scores the regions at each cut (``none``: uncut) against the ground-truth
instances of the training images (``PIPELINE.GT_DATASET``), as ``benchmarks/region_sweep.py`` does.

    python benchmarks/regions_from_instances.py --config-file configs/coco/lite2_pseudo.yaml --source W \\
        --score none,0.5,0.7 PIPELINE.WORK_DIR W
    python benchmarks/regions_from_instances.py --config-file configs/coco/lite2_pseudo.yaml --source W \\
        [--cut 0.7] PIPELINE.WORK_DIR W2   # then W's cam and cams linked into W2, --stages train_irnet,...
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
from scipy import ndimage
from tqdm import tqdm

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from irnet_wsis.pseudo.instances import grow_large_pieces  # noqa: E402


def instance_regions(relation, instances, stride, boundary=None, cut=None, min_piece=0.0):
    """Relation labels uint8 (h, w) and pseudo instances ({"category_id", "score", "mask": bool (H, W)}) ->
    uint8 (h, w) region ids, each only on the cells (every ``stride``-th pixel) whose relation label is its
    instance's class + 1, 0 elsewhere; higher scores drawn last, on top. Without ``cut`` an instance is one
    region; with it, the instance's cells where ``boundary`` (float (h, w), B on the same grid) exceeds ``cut``
    are left out and each 4-connected piece of the rest is a region; with ``min_piece`` > 0 only the pieces
    of at least that share of the instance's cells are regions, and the instance's other cells go to the
    nearest of them. Ids 1..254 in drawing order (pieces without a labelled cell take none; past 254 regions the
    first drawn, lowest-scored, get 0)."""
    h, w = relation.shape
    regions = np.zeros((h, w), np.int64)
    next_id = 1
    for inst in sorted(instances, key=lambda inst: inst["score"]):
        cells = inst["mask"][::stride, ::stride][:h, :w]
        if cut is None:
            pieces, count = cells.astype(np.int64), 1
        else:
            pieces, count = ndimage.label(cells & (boundary <= cut))
            if min_piece > 0 and count:
                pieces, kept = grow_large_pieces(pieces, cells, min_piece * cells.sum())
                count = max(len(kept), 1)
        on = (pieces > 0) & (relation == inst["category_id"] + 1)
        regions[on] = next_id + pieces[on] - 1
        next_id += count
    used, compact = np.unique(regions, return_inverse=True)  # drop ids of pieces with no labelled cell
    compact = compact.reshape(h, w) + (0 if used[0] == 0 else 1)
    dropped = max(int(compact.max()) - 254, 0)  # the lowest-scored regions past 254
    return np.where(compact > dropped, compact - dropped, 0).astype(np.uint8)


def _cut(text):
    return None if text == "none" else float(text)


def main(argv=None):
    from PIL import Image

    import irnet_wsis
    from irnet_wsis.config import setup_cfg
    from irnet_wsis.engine.per_image import atomic_save_png, output_path
    from irnet_wsis.engine.work_dir import gt_records, load_npz, region_path, stage_records, work_paths
    from irnet_wsis.evaluation.apr import decode_rle
    from irnet_wsis.evaluation.relation_quality import region_counts, region_table, stride4_truth

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--source", required=True, help="work directory with relations/, pseudo/ (and irnet_out/)")
    parser.add_argument("--cut", type=_cut, default=None, help="cut instances where B exceeds this (default: none)")
    parser.add_argument("--min-piece", type=float, default=0.0,
                        help="with a cut: pieces under this share of their instance's cells join the nearest large one")
    parser.add_argument("--score", type=lambda t: [_cut(v) for v in t.split(",") if v], default=None,
                        help="score these cuts against the truth, comma-separated (none: uncut); writes nothing")
    parser.add_argument("opts", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cfg = setup_cfg(args.config_file, args.opts)
    irnet_wsis.data.builtin.register_from_cfg(cfg)
    stride = cfg.RELATIONS.OUTPUT_STRIDE
    relations = work_paths(cfg)["relations"]
    cuts = args.score if args.score is not None else [args.cut]
    if args.score is None:
        if os.path.realpath(relations) == os.path.realpath(os.path.join(args.source, "relations")):
            raise SystemExit(f"error: {relations} is SOURCE's own relations folder; give PIPELINE.WORK_DIR a new one")
        os.makedirs(relations, exist_ok=True)
    records = gt_records(cfg) if args.score is not None else stage_records(cfg)
    totals = {cut: {} for cut in cuts}
    for record in tqdm(records, desc="regions from instances", mininterval=2.0):
        image_id = record["image_id"]
        source = output_path(os.path.join(args.source, "relations"), image_id, ".png")
        relation = np.array(Image.open(source))
        data = load_npz(output_path(os.path.join(args.source, "pseudo"), image_id, ".npz"), image_id,
                        "pseudo instances")
        instances = [dict(inst, mask=decode_rle(inst["segmentation"]).astype(bool))
                     for inst in json.loads(str(data["instances"]))]
        boundary = None
        if any(cut is not None for cut in cuts):
            out = load_npz(output_path(os.path.join(args.source, "irnet_out"), image_id, ".npz"), image_id,
                           "IRNet outputs")
            boundary = out["boundary"]
            if boundary.shape != relation.shape:
                raise SystemExit(f"error: {source}: relation labels {relation.shape} but B {boundary.shape}")
        if args.score is not None:
            _, ids = stride4_truth(record, stride)
            for cut in cuts:
                regions = instance_regions(relation, instances, stride, boundary, cut, args.min_piece)
                for k, v in region_counts(regions, ids).items():
                    totals[cut][k] = totals[cut].get(k, 0) + v
            continue
        target = output_path(relations, image_id, ".png")
        atomic_save_png(region_path(target), instance_regions(relation, instances, stride, boundary, args.cut,
                                                               args.min_piece))
        shutil.copyfile(source, target)
    if args.score is None:
        return None
    rows, table = region_table(totals, "cut", "cut (B >)")
    print(table)
    print(json.dumps(rows))
    return rows


if __name__ == "__main__":
    main()
