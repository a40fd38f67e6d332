"""Ingest benchmark: a burst of signed Slack events and Teams activities into `engagebot serve`, against the floor.

For each platform (Slack Events API, Teams Bot Framework activities in emulator mode) and each member profile
(500 members who come back; every event a first-time member), one cell: a fresh `engagebot serve` on a temporary
database holding the prompt posts, and the bare aiohttp floor (its own process: verify the Slack signature and parse
the JSON, or parse the Teams JSON). A load generator in its own process sends the same N events at C concurrent
connections to the floor and to `serve`, alternating (floor, serve, floor, serve, ...), and records each
acknowledgement's latency. Every acknowledged (2xx) event is then looked up in the database through a separate
read-only connection while `serve` still runs: an acknowledged event that is not there is lost.

Benchmarks are not tests: this prints the figures and the targets beside them, and exits 0 whatever they are.

    python -m bench.ingest [--quick] [-n 6000] [-c 32] [--runs 3] [--platform slack|teams|both]
                           [--profile returning|first-time|both]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import machine, print_table, rss_mb
from bench.ingest_plan import PROFILES, Load, Plan, generate, warmup_size
from bench.ingest_servers import FakeServer, Floor, Serve, prepare_database

FULL_N = 6_000
QUICK_N = 600
CONCURRENCY = 32
FULL_RUNS = 3
QUICK_RUNS = 1
WARMUP_CONCURRENCY = 8
TARGET_RATIO = {"returning": 0.5, "first-time": 0.35}
TARGET_P99 = 0.050
PATHS = {"slack": "/slack/events", "teams": "/api/messages"}


@dataclass(frozen=True, slots=True)
class Run:
    """One timed load against one server."""

    sent: int
    acked: frozenset[int]  # event numbers answered 2xx
    errors: dict[int, int]  # non-2xx status (0: connection error) -> count
    seconds: float
    latencies: list[float]  # of the acknowledged requests
    server_cpu: float  # seconds of the server process's CPU during the run
    lookups: int = 0  # users.info calls the fake Slack Web API received during the run

    @property
    def rate(self) -> float:
        return len(self.acked) / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class Cell:
    """The runs of one platform x profile."""

    platform: str
    profile: str
    floor: list[Run] = field(default_factory=list)
    serve: list[Run] = field(default_factory=list)
    lost: int = 0
    checked: int = 0
    rss_mb: float = 0.0

    def ratios(self) -> list[float]:
        return [s.rate / f.rate for f, s in zip(self.floor, self.serve, strict=True) if f.rate]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(load: Load, server_pid: int, slack_api: FakeServer) -> Run:
    cpu_before = cpu_seconds(server_pid)
    lookups_before = slack_api.calls.get("users.info", 0)
    results, seconds = generate(load)
    cpu = cpu_seconds(server_pid) - cpu_before
    acked = frozenset(number for number, status, _ in results if 200 <= status < 300)
    errors: dict[int, int] = {}
    for _, status, _ in results:
        if not 200 <= status < 300:
            errors[status] = errors.get(status, 0) + 1
    latencies = [latency for _, status, latency in results if 200 <= status < 300]
    lookups = slack_api.calls.get("users.info", 0) - lookups_before
    return Run(len(results), acked, errors, seconds, latencies, cpu, lookups)


def lost_events(database: Path, plan: Plan, numbers: frozenset[int]) -> int:
    """How many acknowledged events are not in the database (read by another connection: committed data only)."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        replies = set(
            conn.execute("SELECT channel_id, message_id FROM replies WHERE platform = ?", [plan.platform]).fetchall()
        )
        reactions = set(
            conn.execute(
                """SELECT channel_id, target_id, member_id, name FROM reactions
                   WHERE platform = ? AND removed_at IS NULL""",
                [plan.platform],
            ).fetchall()
        )
    finally:
        conn.close()
    lost = 0
    for number in numbers:
        event = plan.event(number)
        if event.key not in (replies if event.table == "replies" else reactions):
            lost += 1
    return lost


def run_cell(platform: str, profile: str, count: int, runs: int, concurrency: int, connector: FakeServer) -> Cell:
    cell = Cell(platform, profile)
    path = PATHS[platform]
    with tempfile.TemporaryDirectory(prefix="engagebot-ingest-") as tmp, FakeServer() as slack_api:
        workdir = Path(tmp)
        epoch = int(time.time()) - 3600  # event times from the payload: an hour ago, one per millisecond/microsecond
        plan = Plan(platform, profile, epoch, connector.url + "/")
        prepare_database(workdir / "ingest.db", epoch)
        serve = Serve(workdir, slack_api.url)
        serve.start()
        try:
            with Floor() as floor:
                floor_url = f"http://127.0.0.1:{floor.port}{path}"
                serve_url = f"http://127.0.0.1:{serve.port}{path}"
                warm = warmup_size(profile)
                generate(Load(floor_url, plan, 0, min(warm, 300), WARMUP_CONCURRENCY))
                warm_run = measure(Load(serve_url, plan, 0, warm, WARMUP_CONCURRENCY), serve.pid, slack_api)
                slack_api.settle("users.info")  # returning members' names are known before the clock starts
                acked = set(warm_run.acked)
                for index in range(runs):
                    first = warm + index * count
                    cell.floor.append(measure(Load(floor_url, plan, first, count, concurrency), floor.pid, slack_api))
                    run = measure(Load(serve_url, plan, first, count, concurrency), serve.pid, slack_api)
                    cell.serve.append(run)
                    acked |= run.acked
            cell.lost = lost_events(serve.database, plan, frozenset(acked))
            cell.checked = len(acked)
            if cell.lost:
                print(f"{platform}/{profile}: {cell.lost} acknowledged events not in the database; serve log ends:")
                print(*serve.log_tail(), sep="\n")
            cell.rss_mb = rss_mb(serve.pid)
        finally:
            serve.stop()
    print(f"{platform}/{profile}: done", flush=True)
    return cell


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _errors(errors: dict[int, int]) -> str:
    return ", ".join(f"{count} x {status or 'conn'}" for status, count in sorted(errors.items())) or "-"


def report(cells: Sequence[Cell], count: int, runs: int, concurrency: int) -> None:
    detail: list[tuple[str, ...]] = []
    for cell in cells:
        for index, (floor, serve) in enumerate(zip(cell.floor, cell.serve, strict=True), start=1):
            for name, run in (("floor", floor), ("engagebot", serve)):
                detail.append(
                    (
                        cell.platform,
                        cell.profile,
                        str(index),
                        name,
                        f"{run.rate:,.0f}",
                        _ms(run.percentile(0.5)),
                        _ms(run.percentile(0.99)),
                        _ms(max(run.latencies, default=float("nan"))),
                        f"{run.server_cpu / max(run.sent, 1) * 1e6:.0f}",
                        str(run.lookups) if name == "engagebot" else "",
                        _errors(run.errors),
                    )
                )
    print_table(
        "every run (floor and engagebot alternate); latency = send to whole response read, in ms",
        ("platform", "members", "run", "server", "events/s", "p50", "p99", "max", "CPU µs/ev", "users.info", "non-2xx"),
        detail,
    )
    rows: list[tuple[str, ...]] = []
    for cell in cells:
        serve_rate = statistics.median(r.rate for r in cell.serve)
        floor_rate = statistics.median(r.rate for r in cell.floor)
        ratio = statistics.median(cell.ratios())
        p50 = statistics.median(r.percentile(0.5) for r in cell.serve)
        p99 = statistics.median(r.percentile(0.99) for r in cell.serve)
        target = TARGET_RATIO[cell.profile]
        rows.append(
            (
                cell.platform,
                cell.profile,
                f"{serve_rate:,.0f}/s",
                f"{floor_rate:,.0f}/s",
                f"{ratio:.2f}x",
                f">= {target}x {'met' if ratio >= target else 'MISSED'}",
                f"{_ms(p50)} ms",
                f"{_ms(p99)} ms",
                f"<= 50 ms {'met' if p99 <= TARGET_P99 else 'MISSED'}",
                f"{cell.lost} of {cell.checked:,}",
                f"{cell.rss_mb:.0f} MiB",
            )
        )
    print_table(
        f"ingest: medians of {runs} run(s) of {count:,} events, C = {concurrency}; ratio = engagebot / floor of the "
        "same pair",
        ("platform", "members", "engagebot", "floor", "ratio", "target", "p50 ack", "p99 ack", "target", "lost", "RSS"),
        rows,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_N:,} events, {QUICK_RUNS} run (smoke run)")
    parser.add_argument("-n", "--events", type=int, help=f"events per run (default {FULL_N:,})")
    parser.add_argument("-c", "--concurrency", type=int, default=CONCURRENCY, help="concurrent connections (32)")
    parser.add_argument("--runs", type=int, help=f"floor/engagebot pairs per cell (default {FULL_RUNS})")
    parser.add_argument("--platform", choices=("slack", "teams", "both"), default="both")
    parser.add_argument("--profile", choices=(*PROFILES, "both"), default="both")
    args = parser.parse_args(argv)
    count = args.events or (QUICK_N if args.quick else FULL_N)
    runs = args.runs or (QUICK_RUNS if args.quick else FULL_RUNS)
    platforms = ("slack", "teams") if args.platform == "both" else (args.platform,)
    profiles = PROFILES if args.profile == "both" else (args.profile,)

    print(f"ingest benchmark: {machine()}; the load generator, the floor and serve share the machine", flush=True)
    print(
        f"{count:,} events a run (2/3 thread replies, 1/3 reactions to the prompt), concurrency {args.concurrency}, "
        f"{runs} floor/engagebot pair(s) per platform and member profile"
    )
    cells = []
    with FakeServer() as connector:
        for platform in platforms:
            for profile in profiles:
                cells.append(run_cell(platform, profile, count, runs, args.concurrency, connector))
        connector_calls = connector.calls
    report(cells, count, runs, args.concurrency)
    print(f"\nfake Teams connector calls: {connector_calls or 'none'} (capture never calls it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
