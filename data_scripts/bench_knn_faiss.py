#!/usr/bin/python3
"""Times faiss' flat inner-product index (default settings) on the vectors that
examples/bench_knn wrote with --save, and compares its neighbour lists with ours.

  ./build/examples/bench_knn --n 60000 --save /tmp/knn && /usr/bin/python3 data_scripts/bench_knn_faiss.py /tmp/knn
"""
import argparse
import time

import faiss
import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("prefix", help="the --save prefix given to bench_knn")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--k", type=int, default=6)
    a = ap.parse_args()
    x = np.fromfile(a.prefix + ".features.f32", dtype=np.float32).reshape(-1, a.dim)
    ours = np.fromfile(a.prefix + ".knn.i64", dtype=np.int64).reshape(x.shape[0], a.k)
    t0 = time.perf_counter()
    index = faiss.IndexFlatIP(a.dim)
    index.add(x)
    _, idx = index.search(x, a.k)
    dt = time.perf_counter() - t0
    same_sets = np.mean([len(set(r1) & set(r2)) / a.k for r1, r2 in zip(idx, ours)])
    print(f"faiss {faiss.__version__} IndexFlatIP threads={faiss.omp_get_max_threads()}: N={x.shape[0]} "
          f"D={a.dim} k={a.k}: {dt:.2f} s; neighbour-set agreement with gcc-toolkit {100 * same_sets:.3f}%")


if __name__ == "__main__":
    main()
