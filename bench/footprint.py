"""Footprint benchmark: `engagebot serve` start to a healthy /healthz, and its resident memory.

Each start is a fresh process on a fresh temporary database (so the time includes creating the schema), with
no Slack settings (Slack disabled) and no Microsoft app id (Teams in emulator mode).

    python -m bench.footprint [--quick] [--starts N]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import (
    clean_env,
    engagebot_command,
    free_port,
    healthy,
    machine,
    median,
    ms,
    print_table,
    rss_mb,
    verdict,
)

TARGET_START = 2.0
TARGET_RSS_MB = 150.0
START_TIMEOUT = 30.0
POLL_INTERVAL = 0.005


def one_start(workdir: Path, settle: float) -> tuple[float, float]:
    """Start `serve`, wait for /healthz to answer 200; returns (seconds to healthy, RSS in MiB after ``settle``)."""
    port = free_port()
    database = workdir / f"serve-{port}.db"
    env = clean_env(
        PORT=str(port),
        ENGAGEBOT_DB=str(database),
        ENGAGEBOT_CONFIG=str(workdir / "engagebot.toml"),
        ENGAGEBOT_TEAMS_EMULATOR="1",  # Teams loaded, as with credentials, but without them
        LOG_LEVEL="WARNING",
    )
    began = time.perf_counter()
    process = subprocess.Popen(
        [*engagebot_command(), "serve"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while not healthy(port):
            if process.poll() is not None:
                errors = process.stderr.read() if process.stderr else ""
                raise RuntimeError(f"serve exited with {process.returncode}: {errors[-500:]}")
            if time.perf_counter() - began > START_TIMEOUT:
                raise RuntimeError(f"serve not healthy after {START_TIMEOUT:.0f} s")
            time.sleep(POLL_INTERVAL)
        elapsed = time.perf_counter() - began
        time.sleep(settle)
        rss = rss_mb(process.pid)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr is not None:
            process.stderr.close()
    return elapsed, rss


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.footprint", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two starts only (smoke run)")
    parser.add_argument("--starts", type=int, default=5, help="starts to time (default 5)")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds after healthy before reading RSS")
    args = parser.parse_args(argv)
    starts = min(args.starts, 2) if args.quick else args.starts

    print(f"footprint benchmark: {machine()}", flush=True)
    times, rss = [], []
    with tempfile.TemporaryDirectory(prefix="engagebot-footprint-") as tmp:
        workdir = Path(tmp)
        (workdir / "engagebot.toml").write_text('timezone = "Europe/London"\n', encoding="utf-8")
        for _ in range(starts):
            elapsed, resident = one_start(workdir, args.settle)
            times.append(elapsed)
            rss.append(resident)
    start_p50, rss_p50 = median(times), median(rss)
    print_table(
        "`engagebot serve` footprint (Slack disabled, Teams emulator mode, fresh database)",
        ("measure", "result", "target", ""),
        [
            (
                f"start to first 200 from /healthz, median of {starts}",
                ms(start_p50),
                "<= 2000 ms",
                verdict(start_p50, 2),
            ),
            (f"start to first 200 from /healthz, max of {starts}", ms(max(times)), "", ""),
            (
                f"RSS {args.settle:g} s after healthy (VmRSS), median of {starts}",
                f"{rss_p50:.1f} MiB",
                "<= 150 MiB",
                verdict(rss_p50, TARGET_RSS_MB),
            ),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
