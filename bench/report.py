"""Report benchmark: the leadership report of 8 weeks of the synthetic 2-year history, end to end and in parts.

The history is the benchmarks' (``bench.history``: built once, cached), whose replies carry text as
members write it. End to end: `engagebot report` as a subprocess (the installed console script, clean
environment), wall time and peak RSS of that process. In-process: where the time goes (reading, the text
analysis, the disclosure rules, the HTML).

    python -m bench.report [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.common import bench_dir, clean_env, engagebot_command, machine, median, ms, print_table, verdict
from bench.history import FIRST_MONDAY, FULL, QUICK, TIMEZONE, Params, ensure_history
from bot.config import DEFAULT_PROMPT_LIBRARY
from bot.prompts import load_library
from bot.report import ReportOptions, build_report, document, make_report
from bot.report.figures import protect_report
from bot.report.insight import read_text
from bot.report.markers import shipped_markers
from bot.report.model import count_weeks, read_weeks, report_data, report_spans
from bot.report.model import report_weeks as week_list
from bot.timeutil import IsoWeek
from storage.repository import Repository

WEEKS = 8
TARGET_SECONDS = 2.0
TARGET_RSS_MB = 200.0
GENERATED_AT = "2026-12-01T09:00:00+00:00"


def report_weeks(params: Params) -> tuple[IsoWeek, IsoWeek]:
    """The last ``WEEKS`` complete weeks of the history."""
    first_week = IsoWeek.containing(FIRST_MONDAY, ZoneInfo(TIMEZONE))
    last = first_week.back(-(params.weeks - 1))
    return last.back(WEEKS - 1), last


# The report runs under a small Python process that times it and reads its peak RSS from the kernel: measured
# from this (large) process, a forked child would count the pages it shares with its parent before exec.
MEASURE = """
import json, resource, subprocess, sys, time
began = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
elapsed = time.perf_counter() - began
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"code": done.returncode, "out": done.stdout, "err": done.stderr[-500:], "s": elapsed, "mb": rss}))
"""


def run_cli(path: Path, first: IsoWeek, last: IsoWeek, workdir: Path) -> tuple[float, float, bytes]:
    """One `engagebot report`: wall seconds, peak RSS in MiB, the file written."""
    output = workdir / "report.html"
    env = clean_env(ENGAGEBOT_CONFIG=str(workdir / "engagebot.toml"))
    command = [*engagebot_command(), "report", "--db", str(path), "--from", str(first), "--to", str(last)]
    command += ["--output", str(output), "--force", "--generated-at", GENERATED_AT]
    measured = subprocess.run(
        [sys.executable, "-c", MEASURE, *command], cwd=workdir, env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(measured.stdout)
    if result["code"] != 0:
        raise RuntimeError(f"engagebot report failed ({result['code']}): {result['err']}")
    if result["out"].strip() != str(output):
        raise RuntimeError(f"engagebot report printed {result['out']!r}, not the path it wrote")
    return float(result["s"]), float(result["mb"]), output.read_bytes()


def time_parts(path: Path, first: IsoWeek, last: IsoWeek) -> list[tuple[str, float]]:
    """The report's stages in-process, one after the other on one open Repository (no worker thread), then the whole
    of ``make_report`` with its worker thread on a second, read-only connection, as `engagebot report` runs it."""
    tz = ZoneInfo(TIMEZONE)
    themes = load_library(DEFAULT_PROMPT_LIBRARY).theme_names()
    options = ReportOptions()
    repo = Repository.open(path)
    try:
        weeks = week_list(first, last)
        spans = report_spans(weeks, tz)
        began = time.perf_counter()
        groups = read_weeks(repo, spans)
        activity = time.perf_counter()
        replies = repo.report_replies(spans[len(weeks)][0], spans[-1][1], "speech_balloon")
        read = time.perf_counter()
        text = read_text(replies, shipped_markers())
        analysed = time.perf_counter()
        counts = count_weeks(repo, weeks, tz, groups)
        counted = time.perf_counter()
        data = report_data(repo, weeks, tz, counts, replies, themes)
        protect_report(data, text.insights(data.themes).cells(), (), k=options.min_group_size, exact=False)
        protected = time.perf_counter()
        report = build_report(data, options)
        document(report, generated_at=datetime.fromisoformat(GENERATED_AT))
        rendered = time.perf_counter()
        with repo.reader() as counter:
            started = time.perf_counter()
            make_report(repo, first, last, tz, options, themes=themes, counter=counter)
            made = time.perf_counter()
    finally:
        repo.db.close()  # not Repository.close(): its PRAGMA optimize is not part of the measurement
    print(f"{len(replies):,} replies in the period, {sum(len(w.by_post) for w in counts.weeks):,} post-weeks")
    return [
        ("the weeks' activity, grouped by SQLite (read_weeks: the worker thread's part)", activity - began),
        ("the period's replies (report_replies)", read - activity),
        ("what members said: phrases, markers, quotes (read_text)", analysed - read),
        ("the figures of every week, the period and the previous one (count_weeks)", counted - analysed),
        ("disclosure rules on every figure (protect_report)", protected - counted),
        ("build_report and HTML (document)", rendered - protected),
        ("make_report: all of it, the activity read in a worker thread", made - started),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small history (smoke run)")
    parser.add_argument("--runs", type=int, default=3, help="end-to-end runs (default 3)")
    args = parser.parse_args(argv)
    params = QUICK if args.quick else FULL
    print(f"report benchmark: {machine()}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    path, built = ensure_history(params, rebuild=False)
    print(f"database: {path.name} ({'built in ' + format(built, '.0f') + ' s' if built else 'cached'})")
    first, last = report_weeks(params)
    workdir = bench_dir() / "cli"
    workdir.mkdir(exist_ok=True)
    (workdir / "engagebot.toml").write_text(f'timezone = "{TIMEZONE}"\n', encoding="utf-8")

    parts = time_parts(path, first, last)
    runs = [run_cli(path, first, last, workdir) for _ in range(max(1, args.runs))]
    if len({data for _, _, data in runs}) != 1:
        raise RuntimeError("two runs of the same report differ")
    seconds, rss = median([r[0] for r in runs]), max(r[1] for r in runs)
    print_table(
        f"Report of {first} to {last} ({WEEKS} weeks)",
        ("measure", "result", "target", ""),
        [
            *((f"in-process: {name}", ms(value), "", "") for name, value in parts),
            (
                f"`engagebot report` end to end, median of {len(runs)}",
                ms(seconds),
                "<= 2000 ms",
                verdict(seconds, TARGET_SECONDS),
            ),
            ("`engagebot report` peak RSS", f"{rss:.0f} MiB", "<= 200 MiB", verdict(rss, TARGET_RSS_MB)),
            ("report file", f"{len(runs[0][2]) / 1024:.0f} KiB", "", ""),
        ],
    )
    print(
        f"runs: {', '.join(ms(r[0]) for r in runs)}; load average now {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
