#!/usr/bin/env python3
"""Time xinyong and the Mesa model on the same scenario, one core each.

    bench/.venv/bin/python bench/peers/mesa/timing.py --citizens 10000 --days 365 --seeds 1,1,1
    bench/.venv/bin/python bench/peers/mesa/timing.py --citizens 100000 --days 365 --seeds 1,2,3 --max-seconds 1200

Each run is `taskset -c CORE` under `/usr/bin/time -v` (wall, user, system, peak RSS), xinyong
with `--threads 1`; for each seed the Mesa run goes first, then xinyong for the days Mesa
managed (all of them unless `--max-seconds` stopped it), `--xinyong-repeats` times (the
median run is kept: it takes seconds, so one run is noisy). Prints the runs and the medians
(citizen-days per second = citizens × days / wall seconds, start-up and output included),
and writes OUT/timing-N.json.
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def timed(cmd, core):
    load_before = loadavg()
    full = ["/usr/bin/time", "-v", "taskset", "-c", str(core)] + cmd
    p = subprocess.run(full, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr[-2000:]}")
    err = p.stderr

    def field(name):
        return re.search(re.escape(name) + r":\s*(.+)", err).group(1).strip()

    wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss)")
    parts = [float(x) for x in wall.split(":")]
    seconds = sum(x * 60 ** i for i, x in enumerate(reversed(parts)))
    return {
        "load_before": load_before,
        "load_after": loadavg(),
        "wall_s": seconds,
        "user_s": float(field("User time (seconds)")),
        "sys_s": float(field("System time (seconds)")),
        "peak_rss_mib": int(field("Maximum resident set size (kbytes)")) / 1024,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--citizens", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--seeds", default="1,1,1", help="one run per entry (repeat a seed to repeat a run)")
    ap.add_argument("--max-seconds", type=float, default=None, help="Mesa stops after the day crossing this")
    ap.add_argument("--core", type=int, default=0)
    ap.add_argument("--xinyong", default=str(ROOT / "target" / "release" / "xinyong"))
    ap.add_argument("--xinyong-repeats", type=int, default=3,
                    help="xinyong runs per seed (it takes seconds; the median is kept)")
    ap.add_argument("--out", default="/tmp/xinyong-mesa-timing")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n = args.citizens
    runs = []
    for i, seed in enumerate(int(s) for s in args.seeds.split(",")):
        mf = out / f"m-{n}-{seed}-r{i}"
        cmd = [sys.executable, str(HERE / "run.py"), "--citizens", str(n), "--days", str(args.days), "--seed",
               str(seed), "-q", "-o", str(mf)]
        if args.max_seconds:
            cmd += ["--max-seconds", str(args.max_seconds)]
        m = timed(cmd, args.core)
        ms = json.load(open(mf / "summary.json"))
        days = ms["days"]
        m.update(impl="mesa", seed=seed, days=days, cmd=" ".join(cmd), sim_s=ms["timing"]["total_seconds"])
        xf = out / f"x-{n}-{seed}-r{i}"
        cmd = [args.xinyong, "simulate", "--citizens", str(n), "--days", str(days), "--threads", "1", "--seed",
               str(seed), "-q", "--set", "run.ledger_max_citizens=0",
               "--set", "world.grouping=sorted", "-o", str(xf)]
        xruns = []
        for _ in range(max(args.xinyong_repeats, 1)):
            x = timed(cmd, args.core)
            xs = json.load(open(xf / "summary.json"))
            x.update(impl="xinyong", seed=seed, days=days, cmd=" ".join(cmd), sim_s=xs["wall_time_seconds"])
            xruns.append(x)
        x = sorted(xruns, key=lambda r: r["wall_s"])[len(xruns) // 2]
        x["repeats_wall_s"] = [r["wall_s"] for r in xruns]
        for r in (m, x):
            r["citizen_days_per_s"] = n * r["days"] / r["wall_s"]
            r["citizen_days_per_s_sim"] = n * r["days"] / r["sim_s"]
            runs.append(r)
            print(f"{r['impl']:8} seed {seed} {n:,} × {r['days']} d: wall {r['wall_s']:.2f} s "
                  f"(setup + days {r['sim_s']:.2f} s), user {r['user_s']:.2f} s, "
                  f"sys {r['sys_s']:.2f} s, peak RSS {r['peak_rss_mib']:.0f} MiB, "
                  f"{r['citizen_days_per_s']:,.0f} citizen-days/s (load {r['load_before']:.1f} → {r['load_after']:.1f})",
                  flush=True)
    med = {}
    for impl in ("xinyong", "mesa"):
        rs = [r for r in runs if r["impl"] == impl]
        med[impl] = {k: statistics.median(r[k] for r in rs) for k in ("wall_s", "sim_s", "user_s", "sys_s",
                                                                        "peak_rss_mib", "citizen_days_per_s",
                                                                        "citizen_days_per_s_sim", "days")}
    ratio_wall = med["xinyong"]["citizen_days_per_s"] / med["mesa"]["citizen_days_per_s"]
    ratio_user = med["mesa"]["user_s"] / med["xinyong"]["user_s"]
    ratio_sim = med["xinyong"]["citizen_days_per_s_sim"] / med["mesa"]["citizen_days_per_s_sim"]
    print(f"\nmedian of {len(runs) // 2}: xinyong {med['xinyong']['citizen_days_per_s']:,.0f} citizen-days/s "
          f"(wall {med['xinyong']['wall_s']:.2f} s), Mesa {med['mesa']['citizen_days_per_s']:,.0f} "
          f"(wall {med['mesa']['wall_s']:.1f} s); ratio {ratio_wall:,.0f}× (wall), {ratio_user:,.0f}× (user CPU), "
          f"{ratio_sim:,.0f}× (setup + days, outputs excluded)")
    with open(out / f"timing-{n}.json", "w") as f:
        json.dump({"runs": runs, "median": med, "ratio_wall": ratio_wall, "ratio_user_cpu": ratio_user,
                   "ratio_setup_and_days": ratio_sim}, f, indent=2)


if __name__ == "__main__":
    main()
