"""Summary benchmark: one week's summary over the synthetic 2-year history (`bench.history`), in-process and via
the CLI.

    python -m bench.summary [--quick] [--rebuild]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.common import (
    bench_dir,
    clean_env,
    engagebot_command,
    machine,
    median,
    ms,
    print_table,
    verdict,
)
from bench.history import FULL, QUICK, TIMEZONE, ensure_history, sample_weeks
from bot.summary import build_summary
from bot.timeutil import IsoWeek
from storage.repository import Repository

TARGET_IN_PROCESS = 0.100
TARGET_END_TO_END = 1.5


def time_in_process(path: Path, weeks: Sequence[IsoWeek]) -> tuple[list[float], dict[str, dict[str, Any]]]:
    tz = ZoneInfo(TIMEZONE)
    repo = Repository.open(path)
    timings = []
    results = {}
    try:
        for week in weeks:
            began = time.perf_counter()
            summary = build_summary(repo, week, tz)
            timings.append(time.perf_counter() - began)
            results[str(week)] = summary.as_json()
    finally:
        repo.db.close()  # not Repository.close(): its PRAGMA optimize is not part of the measurement
    return timings, results


def run_cli(path: Path, week: IsoWeek, workdir: Path) -> tuple[float, dict[str, Any]]:
    env = clean_env(ENGAGEBOT_DB=str(path), ENGAGEBOT_CONFIG=str(workdir / "engagebot.toml"))
    began = time.perf_counter()
    done = subprocess.run(
        [*engagebot_command(), "summary", "--week", str(week), "--json"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"engagebot summary failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return elapsed, json.loads(done.stdout)


def time_help(workdir: Path, runs: int) -> float:
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([*engagebot_command(), "--help"], cwd=workdir, env=clean_env(), capture_output=True, check=True)
        timings.append(time.perf_counter() - began)
    return median(timings)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.summary", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small history (smoke run)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached history")
    parser.add_argument("--weeks", type=int, default=20, help="weeks to time in-process (default 20)")
    parser.add_argument("--runs", type=int, default=5, help="end-to-end CLI runs (default 5)")
    args = parser.parse_args(argv)
    params = QUICK if args.quick else FULL
    if args.quick:
        args.weeks, args.runs = min(args.weeks, 5), min(args.runs, 2)

    print(f"summary benchmark: {machine()}")
    print(
        f"history: {params.weeks} weeks, {params.posts:,} posts, {params.replies:,} replies, "
        f"{params.reactions:,} reactions, {params.members:,} members, {2 * params.channels} channels",
        flush=True,
    )
    path, built = ensure_history(params, rebuild=args.rebuild)
    size_mb = os.path.getsize(path) / 1024 / 1024
    print(f"database: {path.name} ({'built in ' + format(built, '.0f') + ' s' if built else 'cached'})")

    weeks = sample_weeks(params, args.weeks)
    timings, in_process = time_in_process(path, weeks)

    workdir = bench_dir() / "cli"
    workdir.mkdir(exist_ok=True)
    (workdir / "engagebot.toml").write_text(f'timezone = "{TIMEZONE}"\n', encoding="utf-8")
    cli_week = weeks[len(weeks) // 2]
    e2e = []
    for _ in range(args.runs):
        elapsed, output = run_cli(path, cli_week, workdir)
        if output != in_process[str(cli_week)]:
            raise RuntimeError(f"CLI summary of {cli_week} differs from the in-process one")
        e2e.append(elapsed)
    help_time = time_help(workdir, args.runs)

    sample = in_process[str(cli_week)]["totals"]
    print(
        f"a typical week ({cli_week}): {sample['posts']} posts, {sample['replies']} replies, "
        f"{sample['reactions']} reactions, {sample['participants']} participants"
    )
    p50, worst = median(timings), max(timings)
    print_table(
        "Weekly summary",
        ("measure", "result", "target", ""),
        [
            (f"build_summary in-process, p50 of {len(timings)} weeks", ms(p50), "<= 100 ms", verdict(p50, 0.1)),
            (f"build_summary in-process, max of {len(timings)} weeks", ms(worst), "", ""),
            (
                f"`engagebot summary --json` end to end, median of {len(e2e)}",
                ms(median(e2e)),
                "<= 1500 ms",
                verdict(median(e2e), TARGET_END_TO_END),
            ),
            (f"`engagebot --help` (start-up floor), median of {args.runs}", ms(help_time), "", ""),
            ("database size", f"{size_mb:.0f} MiB", "", ""),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
