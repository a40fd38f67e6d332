"""Request bodies as JSON, strictly: what no platform sends is refused before anything else reads it.

Both endpoints parse with :func:`loads`, so hostile JSON is a 400, never a 500: nesting deeper than
``MAX_DEPTH`` (Python's parser would raise ``RecursionError`` a little deeper, and code walking the result
sooner), ``NaN`` and ``Infinity`` (not JSON), and numbers outside the 64-bit range (``1e999999`` would become
``inf``; an integer of 100 000 digits costs quadratic time to convert). Slack and Bot Framework payloads nest
about ten levels and carry only small numbers.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import parse_qs

__all__ = ["MAX_DEPTH", "MalformedJSON", "check_body", "loads"]

MAX_DEPTH = 64
MAX_INT_DIGITS = 19  # 2**63 has 19 digits
INT_LIMIT = 2**63


class MalformedJSON(ValueError):
    """The body is not JSON engagebot accepts; the message says why (without echoing the body)."""


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS or abs(value := int(text)) >= INT_LIMIT:
        raise MalformedJSON("a number is out of range")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or abs(value) >= INT_LIMIT:
        raise MalformedJSON("a number is out of range")
    return value


def _constant(name: str) -> Any:
    raise MalformedJSON(f"{name} is not JSON")


def _too_deep(value: Any) -> bool:
    """Walk without recursion: is any value nested more than MAX_DEPTH containers deep?"""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def loads(raw: bytes | str) -> Any:
    """Parse a request body; MalformedJSON (a ValueError) for anything outside the rules above."""
    try:
        value = json.loads(raw, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        raise MalformedJSON("the JSON nests too deeply") from None
    except MalformedJSON:
        raise
    except (ValueError, UnicodeDecodeError):
        raise MalformedJSON("the body is not valid JSON") from None
    if _brackets(raw) > MAX_DEPTH and _too_deep(value):
        raise MalformedJSON("the JSON nests too deeply")
    return value


def _brackets(raw: bytes | str) -> int:
    """How many ``[`` and ``{`` the text holds: no value can nest deeper than that (each container opens with one),
    so a body with at most MAX_DEPTH of them, as every platform payload, needs no walk."""
    if isinstance(raw, str):
        return raw.count("[") + raw.count("{")
    return raw.count(b"[") + raw.count(b"{")


def check_body(raw: bytes, content_type: str) -> None:
    """Refuse (MalformedJSON) a form whose ``payload`` field is JSON (Slack interactivity) that :func:`loads`
    refuses; other bodies are left to their own parser (a JSON body is parsed with :func:`loads` itself)."""
    if content_type == "application/x-www-form-urlencoded" and b"payload=" in raw:
        for payload in parse_qs(raw.decode("utf-8", "replace")).get("payload", []):
            loads(payload)
