#!/usr/bin/env python
"""Write the image-level labels of PASCAL VOC 2012 train_aug (10,582 images) once.

    python datasets/prepare_voc.py [--root $DETECTRON2_DATASETS]

Reads VOC2012/ImageSets/Segmentation/{train,val}.txt, VOC2012/SegmentationClass,
SBD/{train,val}.txt and SBD/cls/*.mat; writes VOC2012/cls_labels_train_aug.json
({image_id: [class indices 0..19]}), read by the dataset voc_2012_train_aug_cls.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from irnet_wsis.cli import exit_on_bad_input  # noqa: E402
from irnet_wsis.data.voc import TRAIN_AUG_LABEL_FILE, build_train_aug_labels  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=os.getenv("DETECTRON2_DATASETS", "datasets"))
    args = parser.parse_args(argv)
    voc, sbd = os.path.join(args.root, "VOC2012"), os.path.join(args.root, "SBD")
    labels = build_train_aug_labels(voc, sbd)
    out = os.path.join(voc, TRAIN_AUG_LABEL_FILE)
    with open(out, "w") as f:
        json.dump(labels, f)
    print(f"{len(labels)} images -> {out}")
    return out


if __name__ == "__main__":
    exit_on_bad_input(main)
