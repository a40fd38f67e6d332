"""Dedupe keys that identify a Teams delivery without keeping what could link it to a member in clear."""

from __future__ import annotations

import hashlib


def hashed(*parts: str) -> str:
    """``sha256-`` and the hex SHA-256 of ``parts``, one per line: the same parts give the same key (a redelivery is
    found), and the key says nothing of them (a personal chat's conversation id, a member id)."""
    return "sha256-" + hashlib.sha256("\n".join(parts).encode()).hexdigest()
