"""Writing a command's output file: atomically, never over an existing file unless asked, never over the database."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from bot.errors import UsageError

DATABASE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def check_output(name: str, *, force: bool, databases: Iterable[str]) -> Path:
    """The path to write ``--output name`` to, or a UsageError saying why not (checked before any work is done)."""
    target = Path(name)
    for database in databases:
        for suffix in DATABASE_SUFFIXES:
            if database != ":memory:" and _same_file(target, Path(database + suffix)):
                raise UsageError(f"--output {name} is the database {database}{suffix}: choose another file")
    if target.is_dir():
        raise UsageError(f"--output {name} is a directory")
    if target.exists() and not force:
        raise UsageError(f"--output {name} already exists: choose another file, or pass --force to replace it")
    return target


def write_output(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file, so a reader never sees half a file."""
    partial = target.with_name(target.name + ".part")
    try:
        partial.write_bytes(data)
        partial.replace(target)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise UsageError(f"cannot write {target}: {err.strerror}") from None


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()
