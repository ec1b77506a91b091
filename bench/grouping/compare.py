#!/usr/bin/env python3
"""xinyong's grouping beside scikit-learn KMeans + k-means-constrained, on the same profiles.

1. `xinyong group` draws the synthetic population, groups it, and exports both the profiles
   (float32 .npy) and its assignment (int64 .npy).
2. Here: the same profiles, scaled to unit length (the cosine geometry xinyong uses), go
   through scikit-learn's KMeans with the same number of clusters as xinyong formed (the
   unconstrained reference), then through KMeansConstrained (size_min..size_max, the
   min-cost-flow assignment of Bradley, Bennett & Demiriz) started from KMeans's centres.
3. Both assignments are scored the same way — mean cosine of members to their group
   centroid, Σ_g ‖Σ_{i∈g} x̂_i‖ / grouped — here in numpy and again by xinyong itself
   (`--score-assignment`), so the two implementations of the measure check each other.

Times: xinyong's are its own `plan` + `group` phases (printed by the command); Python's are
wall-clock around each fit. Results go to stdout and to OUT/results.json.

See README.md in this folder for the exact commands.
"""

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
from k_means_constrained import KMeansConstrained
from sklearn.cluster import KMeans


def unit_rows(x):
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return x / norms


def quality(unit, labels):
    """Mean cosine of grouped members to their group centroid (leftovers: label < 0)."""
    mask = labels >= 0
    if not mask.any():
        return 0.0
    k = int(labels[mask].max()) + 1
    sums = np.zeros((k, unit.shape[1]), dtype=np.float64)
    np.add.at(sums, labels[mask], unit[mask].astype(np.float64))
    return float(np.linalg.norm(sums, axis=1).sum() / mask.sum())


def sizes(labels):
    counts = np.bincount(labels[labels >= 0])
    counts = counts[counts > 0]
    return int(counts.min()), float(counts.mean()), int(counts.max()), int((labels < 0).sum())


def run_xinyong(binary, args, extra):
    command = [binary, "group", "--citizens", str(args.citizens), "--dims", str(args.dims),
               "--seed", str(args.seed), "--min-size", str(args.min_size),
               "--max-size", str(args.max_size)] + extra
    print("$ " + " ".join(command), flush=True)
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    print(done.stdout, flush=True)
    return done.stdout


def phase_seconds(stdout, name):
    match = re.search(rf"^\s+{name}\s+([0-9.]+) s", stdout, re.MULTILINE)
    return float(match.group(1)) if match else float("nan")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--citizens", type=int, default=100_000)
    parser.add_argument("--dims", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--min-size", type=int, default=200)
    parser.add_argument("--max-size", type=int, default=300)
    parser.add_argument("--max-iter", type=int, default=300,
                        help="KMeansConstrained iterations at most (its default: 300)")
    parser.add_argument("--verbose", action="store_true", help="let KMeansConstrained print each iteration")
    parser.add_argument("--reuse-python", action="store_true",
                        help="reuse OUT/python.json and OUT/kmeans_constrained.npy from an earlier run on the "
                             "same profiles (checked by checksum) instead of fitting again (the fit takes "
                             "about 1.5 hours at 100 000 citizens)")
    parser.add_argument("--xinyong", default=os.path.join(root, "target", "release", "xinyong"))
    parser.add_argument("--out", default=os.path.join(here, "out"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    profiles_path = os.path.join(args.out, "profiles.npy")
    ours_path = os.path.join(args.out, "xinyong.npy")
    theirs_path = os.path.join(args.out, "kmeans_constrained.npy")

    stdout = run_xinyong(args.xinyong, args, ["--export-profiles", profiles_path,
                                               "--export-assignment", ours_path])
    ours_seconds = phase_seconds(stdout, "plan") + phase_seconds(stdout, "group")

    x = np.load(profiles_path)
    unit = unit_rows(x)
    ours = np.load(ours_path)
    k = int(ours.max()) + 1
    print(f"python: {x.shape[0]} profiles of {x.shape[1]} dims, k = {k} (xinyong's group count)", flush=True)

    checksum = hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()
    python_path = os.path.join(args.out, "python.json")
    if args.reuse_python:
        with open(python_path) as f:
            saved = json.load(f)
        if saved["profiles_sha256"] != checksum or saved["k"] != k:
            sys.exit("--reuse-python: the saved fit is for other profiles or another k; run without it")
        kmeans_seconds, constrained_seconds = saved["kmeans_seconds"], saved["constrained_seconds"]
        kmeans_iterations, constrained_iterations = saved["kmeans_iterations"], saved["constrained_iterations"]
        kmeans_labels = np.load(os.path.join(args.out, "kmeans.npy"))
        theirs = np.load(theirs_path)
        print(f"  reusing the fit of {saved['when']} on the same profiles (sha256 {checksum[:12]}…)", flush=True)
    else:
        start = time.perf_counter()
        kmeans = KMeans(n_clusters=k, n_init=1, random_state=args.seed).fit(unit)
        kmeans_seconds = time.perf_counter() - start
        kmeans_iterations, kmeans_labels = int(kmeans.n_iter_), kmeans.labels_.astype(np.int64)
        start = time.perf_counter()
        constrained = KMeansConstrained(n_clusters=k, size_min=args.min_size, size_max=args.max_size,
                                        init=kmeans.cluster_centers_, n_init=1, max_iter=args.max_iter,
                                        random_state=args.seed, verbose=args.verbose).fit(unit)
        constrained_seconds = time.perf_counter() - start
        constrained_iterations = int(constrained.n_iter_)
        theirs = constrained.labels_.astype(np.int64)
        np.save(theirs_path, theirs)
        np.save(os.path.join(args.out, "kmeans.npy"), kmeans_labels)
        with open(python_path, "w") as f:
            json.dump({"profiles_sha256": checksum, "k": k, "kmeans_seconds": kmeans_seconds,
                       "kmeans_iterations": kmeans_iterations, "constrained_seconds": constrained_seconds,
                       "constrained_iterations": constrained_iterations,
                       "when": time.strftime("%Y-%m-%d %H:%M")}, f, indent=2)
    print(f"  sklearn KMeans            {kmeans_seconds:8.1f} s  ({kmeans_iterations} iterations)", flush=True)
    print(f"  KMeansConstrained         {constrained_seconds:8.1f} s  ({constrained_iterations} iterations)",
          flush=True)

    python_seconds = kmeans_seconds + constrained_seconds
    results = {
        "citizens": int(x.shape[0]),
        "dims": int(x.shape[1]),
        "groups": k,
        "bounds": [args.min_size, args.max_size],
        "xinyong": {"seconds": ours_seconds, "quality": quality(unit, ours), "sizes": sizes(ours)},
        "sklearn_kmeans_unconstrained": {"seconds": kmeans_seconds, "quality": quality(unit, kmeans_labels),
                                          "sizes": sizes(kmeans_labels)},
        "kmeans_constrained": {"seconds": python_seconds, "of_which_constrained_seconds": constrained_seconds,
                               "iterations": constrained_iterations,
                               "quality": quality(unit, theirs), "sizes": sizes(theirs)},
    }
    results["time_ratio_python_over_xinyong"] = python_seconds / ours_seconds

    # xinyong scores the Python assignment with its own implementation of the measure.
    check = run_xinyong(args.xinyong, args, ["--no-baselines", "--score-assignment", theirs_path])
    match = re.search(r"quality ([0-9.]+) \(xinyong", check)
    results["kmeans_constrained"]["quality_by_xinyong"] = float(match.group(1)) if match else None

    print(json.dumps(results, indent=2))
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    r = results
    print(f"\nsame {r['citizens']} profiles, {k} groups of {args.min_size}..={args.max_size}:")
    print(f"  xinyong                          {r['xinyong']['seconds']:9.2f} s   quality {r['xinyong']['quality']:.4f}")
    print(f"  KMeans + KMeansConstrained       {python_seconds:9.2f} s   quality "
          f"{r['kmeans_constrained']['quality']:.4f}")
    print(f"  (KMeans alone, sizes unbounded   {kmeans_seconds:9.2f} s   quality "
          f"{r['sklearn_kmeans_unconstrained']['quality']:.4f})")
    print(f"  time ratio Python / xinyong: {results['time_ratio_python_over_xinyong']:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
