#!/usr/bin/env python3
"""Run the Mesa model of xinyong's default scenario.

    bench/.venv/bin/python bench/peers/mesa/run.py --citizens 10000 --days 365 --seed 1 -o /tmp/m-1

Writes OUT/metrics.csv (one row per day, from Mesa's DataCollector) and OUT/summary.json
(totals, final tiers, headline metrics, timings). `--max-seconds` stops after the day that
crosses the budget (for populations too large to simulate a whole year in reasonable time);
the summary then says how many days were simulated.
"""

import argparse
import csv
import json
import resource
import sys
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from model import DEFAULT_SCENARIO, SocialCreditModel, load_scenario  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--citizens", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scenario", default=str(DEFAULT_SCENARIO), help="a xinyong scenario file (TOML)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a scenario key, as xinyong's --set (e.g. world.voting.model=always_keep)")
    ap.add_argument("--max-seconds", type=float, default=None, help="stop after the day that crosses this budget")
    ap.add_argument("-o", "--out", default=None, help="output folder (metrics.csv, summary.json)")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args()

    scenario = load_scenario(args.scenario)
    for item in args.set:
        key, _, value = item.partition("=")
        *path, last = key.split(".")
        node = scenario
        for part in path:
            node = node[part]
        if last not in node:
            sys.exit(f"--set {item}: unknown key {key}")
        try:
            node[last] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            node[last] = value  # a bare string
    t0 = time.perf_counter()
    model = SocialCreditModel(citizens=args.citizens, seed=args.seed, scenario=scenario)
    t1 = time.perf_counter()
    for d in range(args.days):
        model.step()
        if not args.quiet and (d + 1) % 30 == 0:
            elapsed = time.perf_counter() - t1
            print(f"day {d + 1}/{args.days}: {elapsed:.1f} s, {args.citizens * (d + 1) / elapsed:,.0f} citizen-days/s",
                  file=sys.stderr, flush=True)
        if args.max_seconds is not None and time.perf_counter() - t0 >= args.max_seconds:
            break
    t2 = time.perf_counter()
    summary = model.summary()
    summary["timing"] = {
        "setup_seconds": t1 - t0,
        "days_seconds": t2 - t1,
        "total_seconds": t2 - t0,
        "citizen_days_per_second_days_only": args.citizens * model.day / (t2 - t1),
        "citizen_days_per_second_total": args.citizens * model.day / (t2 - t0),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        rows = model.datacollector.model_vars
        names = list(rows)
        with open(out / "metrics.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(names)
            for i in range(len(rows["day"])):
                w.writerow([rows[n][i] for n in names])
        with open(out / "summary.json", "w") as f:
            json.dump(summary, f, indent=2)
    if not args.quiet:
        h = summary["headline"]
        t = summary["totals"]
        print(
            f"{summary['citizens']:,} citizens, {summary['groups']} groups, {summary['days']} days, seed {args.seed}: "
            f"{t['incidents_true'] + t['incidents_false']:,} incidents ({t['incidents_false']:,} false), "
            f"{t['notices']:,} notices, {t['expulsions']:,} expulsions ({t['expulsions_innocent']:,} innocent), "
            f"banned at the end {h['banned_share_end']:.2%}, mean score {summary['score_mean_end']:.1f}; "
            f"{summary['timing']['total_seconds']:.1f} s "
            f"({summary['timing']['citizen_days_per_second_total']:,.0f} citizen-days/s)"
        )


if __name__ == "__main__":
    main()
