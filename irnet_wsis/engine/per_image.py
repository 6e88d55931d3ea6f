"""Resumable, data-parallel loops over the images of a dataset.

Every per-image stage (CAMs, relations, IRNet outputs, synthesis) writes one
file per image under the work directory. ``run_per_image`` gives each process
of a Detectron2 ``launch`` its share of the images, skips images whose output
already exists (resume), writes through a temporary file and an atomic rename
(a killed run never leaves a half-written file), shows a progress bar on the
main process and returns counts gathered over all processes.
"""
import logging
import os
import tempfile
import time
from typing import Callable, Dict, List, Tuple

import numpy as np
from detectron2.utils import comm
from PIL import Image
from tqdm import tqdm

from ..errors import BadInputError
from ..utils.processes import fork_map

__all__ = [
    "run_per_image",
    "run_per_image_batches",
    "atomic_save_npz",
    "atomic_save_png",
    "output_path",
]

logger = logging.getLogger(__name__)


def output_path(out_dir: str, image_id: str, ext: str) -> str:
    """``<out_dir>/<image_id><ext>``; image ids may contain '/' (then subfolders)."""
    return os.path.join(out_dir, f"{image_id}{ext}")


def _atomic_write(path: str, write: Callable[[str], None], suffix: str) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", suffix=".tmp" + suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_save_npz(path: str, **arrays) -> None:
    """Write a compressed npz to ``path`` atomically."""

    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    _atomic_write(path, write, ".npz")


def atomic_save_png(path: str, array: np.ndarray) -> None:
    """Write a uint8 (H, W) array as a PNG atomically (lossless)."""

    def write(tmp):
        Image.fromarray(np.asarray(array, dtype=np.uint8)).save(tmp, format="PNG")

    _atomic_write(path, write, ".png")


def run_per_image(
    records: List[dict],
    out_dir: str,
    ext: str,
    process_one: Callable[[dict, str], None],
    desc: str,
    skip_bad: bool = False,
    workers: int = 1,
) -> Dict[str, int]:
    """Run ``process_one(record, out_path)`` for every record without an output.

    Args:
        records: dataset dicts (need ``image_id``); every process passes the same list.
        out_dir: folder of the stage's per-image outputs.
        ext: file extension of an output (".npz", ".png").
        process_one: computes and writes ``out_path`` (use ``atomic_save_*``).
        desc: progress bar label.
        skip_bad: log and count ``BadInputError`` instead of stopping.
        workers: > 1: that many forked worker processes (one torch thread each) share this process's images,
            for work that holds the GIL on one core (pydensecrf's dense CRF).

    Returns:
        {"images", "done", "skipped_existing", "bad", "seconds"} summed over processes.
    """
    if workers > 1:
        return _run_per_image_pool(records, out_dir, ext, process_one, desc, skip_bad, workers)

    def process_batch(items):
        for record, path in items:
            process_one(record, path)

    return run_per_image_batches(records, out_dir, ext, process_batch, desc, 1, skip_bad)


def _pending(records, out_dir, ext):
    """This process's share of ``records`` without an output: ([(record, out_path)], counts so far)."""
    os.makedirs(out_dir, exist_ok=True)
    rank, world = comm.get_rank(), comm.get_world_size()
    mine = records[rank::world]
    pending = [(r, output_path(out_dir, r["image_id"], ext)) for r in mine]
    pending = [item for item in pending if not os.path.exists(item[1])]
    return pending, {"images": len(mine), "done": 0, "skipped_existing": len(mine) - len(pending), "bad": 0}


def _gather_counts(counts):
    """This process's counts -> the sums over every process (seconds: the slowest)."""
    comm.synchronize()
    all_counts = comm.all_gather(counts)
    total = {k: sum(c[k] for c in all_counts) for k in ("images", "done", "skipped_existing", "bad")}
    total["seconds"] = max(c["seconds"] for c in all_counts)
    return total


def _call_counting_bad_input(process_one):
    """One image in a worker: None, or the BadInputError it raised (re-raised or counted by the parent)."""
    def call(item):
        try:
            process_one(*item)
            return None
        except BadInputError as e:
            return e

    return call


def _run_per_image_pool(records, out_dir, ext, process_one, desc, skip_bad, workers):
    pending, counts = _pending(records, out_dir, ext)
    start = time.perf_counter()
    with tqdm(total=len(pending), desc=desc, disable=not comm.is_main_process(), dynamic_ncols=True,
              mininterval=2.0) as bar:
        for error in fork_map(_call_counting_bad_input(process_one), pending, workers, ordered=False):
            if error is None:
                counts["done"] += 1
            elif skip_bad:
                logger.warning("skipped: %s", error)
                counts["bad"] += 1
            else:
                raise error
            bar.update(1)
    counts["seconds"] = time.perf_counter() - start
    return _gather_counts(counts)


def run_per_image_batches(
    records: List[dict],
    out_dir: str,
    ext: str,
    process_batch: Callable[[List[Tuple[dict, str]]], None],
    desc: str,
    batch_size: int = 1,
    skip_bad: bool = False,
) -> Dict[str, int]:
    """``run_per_image`` for stages that are faster on batches: ``process_batch([(record, out_path), ...])``.

    A batch that raises ``BadInputError`` under ``skip_bad`` is retried image by
    image, so only the bad image is skipped.
    """
    pending, counts = _pending(records, out_dir, ext)
    start = time.perf_counter()
    bar = tqdm(total=len(pending), desc=desc, disable=not comm.is_main_process(), dynamic_ncols=True,
               mininterval=2.0)
    for i in range(0, len(pending), batch_size):
        batch = pending[i:i + batch_size]
        try:
            process_batch(batch)
            counts["done"] += len(batch)
        except BadInputError as e:
            if not skip_bad:
                raise
            if len(batch) == 1:
                logger.warning("skipped: %s", e)
                counts["bad"] += 1
            else:  # find the bad image(s): one by one
                for item in batch:
                    try:
                        process_batch([item])
                        counts["done"] += 1
                    except BadInputError as single:
                        logger.warning("skipped: %s", single)
                        counts["bad"] += 1
        bar.update(len(batch))
    bar.close()
    counts["seconds"] = time.perf_counter() - start
    return _gather_counts(counts)
