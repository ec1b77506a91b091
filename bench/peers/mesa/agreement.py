#!/usr/bin/env python3
"""Do xinyong and the Mesa model agree? Headline metrics over the same seeds.

    bench/.venv/bin/python bench/peers/mesa/agreement.py --seeds 1-10 --citizens 10000 --run

For each seed, runs (with --run, when its output is missing) or reads
  xinyong simulate --citizens N --days D --threads 1 --seed S -q --set run.ledger_max_citizens=0 -o OUT/x-N-S
  run.py --citizens N --days D --seed S -q -o OUT/m-N-S
then prints, per metric, the mean over seeds of each implementation with its 95 % interval
(t distribution), the difference and Welch's t-test p-value, as a Markdown table, and writes
OUT/agreement-N.json. The seeds are not common random numbers (the two draw differently):
each run is an independent sample of the same model.
"""

import argparse
import csv
import json
import math
import subprocess
import sys
from pathlib import Path

from scipy import stats

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]


def seeds_arg(text):
    out = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def metrics_from(summary, score_mean_end, days):
    t = summary["totals"]
    n = summary["citizens"]
    incidents = t["incidents_true"] + t["incidents_false"]
    answers = t["answers_expel"] + t["answers_keep"] + t["answers_none"]
    pools = t["pools"]
    by_tier = t.get("pools_by_tier") or [p["pools"] for p in summary["pools_by_tier"]]
    year = 365 / days
    return {
        "expulsions per incident": t["expulsions"] / incidents,
        "expulsions per 1,000 citizens per year": t["expulsions"] / n * 1000 * year,
        "banned share at the end (tier D)": t["travel_banned_end"] / n,
        "mean score at the end": score_mean_end,
        "innocent share of expulsions": t["expulsions_innocent"] / t["expulsions"] if t["expulsions"] else 0.0,
        "incidents per 1,000 citizens per year": incidents / n * 1000 * year,
        "false share of incidents": t["incidents_false"] / incidents,
        "notices per citizen per year": t["notices"] / n * year,
        "answers: expel share": t["answers_expel"] / answers,
        "answers: keep share": t["answers_keep"] / answers,
        "banned who never offended (share of banned)": t["banned_never_offended_end"] / max(t["travel_banned_end"], 1),
        "orders per citizen per year": t["orders"] / n * year,
        "refused tickets per 1,000 citizens per year": t["orders_refused_travel"] / n * 1000 * year,
        "pools reaching 20 %": by_tier[0] / pools,
        "pools reaching 30 %": by_tier[2] / pools,
    }


def read_xinyong(folder):
    summary = json.load(open(folder / "summary.json"))
    rows = list(csv.DictReader(open(folder / "metrics.csv")))
    return metrics_from(summary, float(rows[-1]["score_mean"]), summary["days"])


def read_mesa(folder):
    summary = json.load(open(folder / "summary.json"))
    return metrics_from(summary, summary["score_mean_end"], summary["days"])


def interval(xs):
    n = len(xs)
    mean = sum(xs) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n) if n > 1 else float("nan")
    return mean, half, sd


def welch_half(xs, ms):
    """Half-width of the 95 % Welch interval of mean(ms) − mean(xs)."""
    nx, nm = len(xs), len(ms)
    if nx < 2 or nm < 2:
        return float("nan")
    vx = interval(xs)[2] ** 2 / nx
    vm = interval(ms)[2] ** 2 / nm
    se2 = vx + vm
    if se2 == 0:
        return 0.0
    df = se2**2 / (vx**2 / (nx - 1) + vm**2 / (nm - 1))
    return stats.t.ppf(0.975, df) * math.sqrt(se2)


def holm_min(ps):
    """The smallest Holm-adjusted p-value (the family-wise test over all metrics)."""
    ps = [p for p in ps if p == p]
    return min(1.0, min(ps) * len(ps)) if ps else float("nan")


def fmt(x):
    if abs(x) >= 100:
        return f"{x:,.1f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.4f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=seeds_arg, default=seeds_arg("1-10"))
    ap.add_argument("--citizens", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--xinyong", default=str(ROOT / "target" / "release" / "xinyong"))
    ap.add_argument("--out", default="/tmp/xinyong-mesa-agreement")
    ap.add_argument("--run", action="store_true", help="run the missing outputs (else only read)")
    args = ap.parse_args()
    out = Path(args.out)
    n, days = args.citizens, args.days
    x_runs, m_runs = [], []
    for s in args.seeds:
        xf, mf = out / f"x-{n}-{s}", out / f"m-{n}-{s}"
        if args.run and not (xf / "summary.json").exists():
            subprocess.run(
                [args.xinyong, "simulate", "--citizens", str(n), "--days", str(days), "--threads", "1", "--seed",
                 str(s), "-q", "--set", "run.ledger_max_citizens=0",
                 "--set", "world.grouping=sorted", "-o", str(xf)],
                check=True,
            )
        if args.run and not (mf / "summary.json").exists():
            subprocess.run(
                [sys.executable, str(HERE / "run.py"), "--citizens", str(n), "--days", str(days), "--seed", str(s),
                 "-q", "-o", str(mf)],
                check=True,
            )
        x_runs.append(read_xinyong(xf))
        m_runs.append(read_mesa(mf))
    names = list(x_runs[0])
    result = {"citizens": n, "days": days, "seeds": args.seeds, "metrics": {}}
    print(f"{n:,} citizens, {days} days, seeds {args.seeds[0]}–{args.seeds[-1]} ({len(args.seeds)} each); "
          "mean ± 95 % half-interval over seeds; Welch's t-test\n")
    print("| metric | xinyong | Mesa | Mesa − xinyong (95 % CI) | Welch p |")
    print("|---|---|---|---|---|")
    for name in names:
        xs = [r[name] for r in x_runs]
        ms = [r[name] for r in m_runs]
        xm, xh, _ = interval(xs)
        mm, mh, _ = interval(ms)
        p = stats.ttest_ind(xs, ms, equal_var=False).pvalue if len(xs) > 1 else float("nan")
        dh = welch_half(xs, ms)
        result["metrics"][name] = {"xinyong": xs, "mesa": ms, "p": p, "difference": mm - xm, "difference_half": dh}
        print(f"| {name} | {fmt(xm)} ± {fmt(xh)} | {fmt(mm)} ± {fmt(mh)} | {fmt(mm - xm)} ± {fmt(dh)} | {p:.2f} |")
    ps = [v["p"] for v in result["metrics"].values()]
    print(f"\n{sum(p < 0.05 for p in ps)} of {len(ps)} metrics with p < 0.05 "
          f"(about {0.05 * len(ps):.1f} expected by chance if the two agree); smallest Holm-adjusted p: "
          f"{holm_min(ps):.2f}")
    with open(out / f"agreement-{n}.json", "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
