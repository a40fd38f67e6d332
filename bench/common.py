"""Helpers shared by the benchmarks: timing statistics, tables, the engagebot command and a clean environment."""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

# Variables that change how engagebot behaves: the developer's shell must not leak into a benchmark.
CLEARED_PREFIXES = ("ENGAGEBOT_", "SLACK_", "MICROSOFT")
CLEARED_NAMES = frozenset({"PORT", "HOST", "LOG_LEVEL", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"})

REPO_ROOT = Path(__file__).resolve().parent.parent


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without engagebot's settings, plus ``extra``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith(CLEARED_PREFIXES) and name.upper() not in CLEARED_NAMES
    }
    env.update(extra)
    return env


def engagebot_command() -> list[str]:
    """The installed `engagebot` console script next to this interpreter, else `python app.py`."""
    script = Path(sys.executable).with_name("engagebot")
    if script.is_file():
        return [str(script)]
    found = shutil.which("engagebot")
    if found:
        return [found]
    return [sys.executable, str(REPO_ROOT / "app.py")]


def bench_dir() -> Path:
    """Where benchmarks keep cached data between runs (under the system temporary directory)."""
    path = Path(tempfile.gettempdir()) / "engagebot-bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthy(port: int) -> bool:
    """Whether a local server on ``port`` answers ``GET /healthz`` with 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MiB, from /proc/<pid>/status (VmRSS)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "MISSED"


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A compact fixed-width table."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    line = "  ".join("-" * w for w in widths)
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    sys.stdout.flush()


def machine() -> str:
    cores = os.cpu_count() or 0
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cores} cores{', ' + model if model else ''}; Python {sys.version.split()[0]}"
