#!/usr/bin/env python
"""Random-walk propagation (Eq. 12-13): our sparse walk against a dense baseline, same run, same machine.

The baseline is how dense implementations compute it: build the dense (hw x hw)
transition matrix T and raise it to the power t = 256 by 8 repeated squarings,
then multiply the maps. Ours keeps T sparse (radius 5: <= 69 entries a row) and
takes 256 sparse products. "stencil" is the other sparse form we tried (256 steps
of 2P + 1 shifted multiply-adds of the maps); CSR was faster, so the library
uses CSR and the stencil lives only here. Each method runs in its own subprocess
so its peak memory (ru_maxrss above the process's baseline) is its own.

    python benchmarks/random_walk.py --sizes 64 96 128 --maps 8 --threads 1

On a machine whose cores are busy with other jobs use --threads 1: torch's
intra-op threads then wait on each other at every one of the 256 small products
(measured 30x slower with 2 threads on 2 shared cores).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def _rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _inputs(size, maps):
    import torch

    g = torch.Generator().manual_seed(0)
    boundary = torch.rand(size, size, generator=g) * 0.3
    boundary[:, size // 2] = 0.9  # a strong boundary line
    x = torch.rand(maps, size, size, generator=g)
    return boundary, x


def run_one(method, size, maps, steps, threads, out_file):
    import torch

    from irnet_wsis.pseudo.random_walk import propagate, transition_operator

    torch.set_num_threads(threads)
    boundary, x = _inputs(size, maps)
    base = _rss_mib()
    start = time.perf_counter()
    squarings = []
    if method == "sparse":
        y = propagate(transition_operator(boundary, 5, 10), x, steps)
    elif method == "stencil":
        y = _stencil_propagate(boundary, x, steps)
    else:
        dense = transition_operator(boundary, 5, 10).to_dense()
        for _ in range(int(steps).bit_length() - 1):  # 256 = 2^8: 8 squarings
            tick = time.perf_counter()
            dense = dense @ dense
            squarings.append(round(time.perf_counter() - tick, 2))
        y = (dense @ x.reshape(maps, -1).t()).t().reshape(maps, size, size)
    seconds = time.perf_counter() - start
    torch.save(y, out_file)
    print(json.dumps({"method": method, "seconds": seconds, "peak_mib": _rss_mib() - base, "squarings_s": squarings}))


def _stencil_propagate(boundary, x, steps):
    """The same walk as shifted adds: the library's neighbour table, one weight plane per shift."""
    import torch
    import torch.nn.functional as F

    from irnet_wsis.layers.pixel_pairs import PixelPairs
    from irnet_wsis.pseudo.random_walk import neighbor_affinity

    m, h, w = x.shape
    _, values = neighbor_affinity(boundary, 5, 10)  # (hw, 2P + 1), 0 outside the grid
    weights = (values / values.sum(dim=1, keepdim=True)).t().reshape(-1, h, w)  # rows of T = S^-1 A^beta
    offsets = PixelPairs.get(5).offsets
    order = (offsets[:, 0] * w + offsets[:, 1]).argsort()  # the table's slot order (see neighbor_affinity)
    shifts = torch.cat([-offsets[order].flip(0), offsets.new_zeros(1, 2), offsets[order]]).tolist()
    r = int(offsets.abs().max())
    for _ in range(steps):
        padded = F.pad(x, (r, r, r, r))
        out = torch.zeros_like(x)
        for k, (dy, dx) in enumerate(shifts):
            out.addcmul_(weights[k], padded[:, r + dy:r + dy + h, r + dx:r + dx + w])
        x = out
    return x


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 96, 128])
    parser.add_argument("--maps", type=int, default=8)
    parser.add_argument("--steps", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--methods", nargs="+", default=["sparse", "stencil", "dense"],
                        choices=["sparse", "stencil", "dense"])
    parser.add_argument("--worker", nargs=3, metavar=("METHOD", "SIZE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_one(args.worker[0], int(args.worker[1]), args.maps, args.steps, args.threads, args.worker[2])
        return
    import tempfile

    import torch

    rows = []
    for size in args.sizes:
        res = {}
        with tempfile.TemporaryDirectory() as tmp:
            for method in args.methods:
                out = os.path.join(tmp, f"{method}.pt")
                cmd = [sys.executable, __file__, "--maps", str(args.maps), "--steps", str(args.steps),
                       "--threads", str(args.threads), "--worker", method, str(size), out]
                line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
                res[method] = json.loads(line)
                res[method]["y"] = torch.load(out)
        row = {"grid": f"{size}x{size}", "maps": args.maps, "steps": args.steps, "threads": args.threads}
        for method, r in res.items():
            row[f"{method}_s"] = round(r["seconds"], 3)
            row[f"{method}_peak_mib"] = round(r["peak_mib"], 1)
            if r["squarings_s"]:
                row["dense_squarings_s"] = r["squarings_s"]
        if "sparse" in res:
            for other in ("stencil", "dense"):
                if other in res:
                    row[f"{other}_vs_sparse_time"] = round(res[other]["seconds"] / res["sparse"]["seconds"], 1)
                    row[f"{other}_vs_sparse_memory"] = round(
                        res[other]["peak_mib"] / max(res["sparse"]["peak_mib"], 1e-3), 1)
                    row[f"{other}_max_abs_diff"] = float((res["sparse"]["y"] - res[other]["y"]).abs().max())
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


if __name__ == "__main__":
    main()
