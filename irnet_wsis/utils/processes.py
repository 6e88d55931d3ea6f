"""Forked worker processes, one torch thread each, for per-image work that holds the GIL (pydensecrf's dense CRF)
or gains little from intra-op threads (the synthesis of one image's instances)."""
import multiprocessing
from typing import Callable, Iterable, Iterator

__all__ = ["fork_map"]

_FUNCTION = None  # the workers' function (closures do not pickle; fork copies this global)


def _init():
    import torch

    torch.set_num_threads(1)


def _call(item):
    return _FUNCTION(item)


def fork_map(function: Callable, items: Iterable, workers: int, ordered: bool = True, chunksize: int = 4) -> Iterator:
    """Yield ``function(item)`` for each item: in this process when ``workers`` <= 1, else in that many forked
    processes with one torch thread each (``function`` may be a closure; an exception it raises is raised here).

    Args:
        ordered: results in the order of ``items``; False: as they finish.
    """
    global _FUNCTION
    if workers <= 1:
        yield from map(function, items)
        return
    _FUNCTION = function
    try:
        with multiprocessing.get_context("fork").Pool(workers, initializer=_init) as pool:
            imap = pool.imap if ordered else pool.imap_unordered
            yield from imap(_call, items, chunksize=chunksize)
    finally:
        _FUNCTION = None
