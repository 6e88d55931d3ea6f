#!/usr/bin/env python
"""Random-walk propagation (Eq. 12-13): our sparse walk against a dense baseline, same run, same machine.

The baseline is how dense implementations compute it: build the dense (hw x hw)
transition matrix T and raise it to the power t = 256 by 8 repeated squarings,
then multiply the maps. Ours keeps T sparse (radius 5: <= 69 entries a row) and
takes 256 sparse products. Each method runs in its own subprocess so its peak
memory (ru_maxrss above the process's baseline) is its own.

    python benchmarks/random_walk.py --sizes 64 96 128 --maps 8 --threads 2
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

    from irnet_wsis.pseudo.random_walk import propagate, transition_matrix

    torch.set_num_threads(threads)
    boundary, x = _inputs(size, maps)
    base = _rss_mib()
    start = time.perf_counter()
    t = transition_matrix(boundary, 5, 10)
    if method == "sparse":
        y = propagate(t, x, steps)
    else:
        dense = t.to_dense()
        del t
        for _ in range(int(round(steps).bit_length() - 1)):  # 256 = 2^8: 8 squarings
            dense = dense @ dense
        y = (dense @ x.reshape(maps, -1).t()).t().reshape(maps, size, size)
    seconds = time.perf_counter() - start
    torch.save(y, out_file)
    print(json.dumps({"method": method, "seconds": seconds, "peak_mib": _rss_mib() - base}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 96, 128])
    parser.add_argument("--maps", type=int, default=8)
    parser.add_argument("--steps", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
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
            for method in ("sparse", "dense"):
                out = os.path.join(tmp, f"{method}.pt")
                cmd = [sys.executable, __file__, "--maps", str(args.maps), "--steps", str(args.steps),
                       "--threads", str(args.threads), "--worker", method, str(size), out]
                line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
                res[method] = json.loads(line)
                res[method]["y"] = torch.load(out)
        diff = float((res["sparse"]["y"] - res["dense"]["y"]).abs().max())
        row = {"grid": f"{size}x{size}", "maps": args.maps, "steps": args.steps,
               "sparse_s": round(res["sparse"]["seconds"], 3), "dense_s": round(res["dense"]["seconds"], 3),
               "speedup": round(res["dense"]["seconds"] / res["sparse"]["seconds"], 1),
               "sparse_peak_mib": round(res["sparse"]["peak_mib"], 1), "dense_peak_mib": round(res["dense"]["peak_mib"], 1),
               "memory_ratio": round(res["dense"]["peak_mib"] / max(res["sparse"]["peak_mib"], 1e-3), 1),
               "max_abs_diff": diff}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


if __name__ == "__main__":
    main()
