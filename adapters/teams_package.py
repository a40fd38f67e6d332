"""The Teams app package: manifest.json plus the two icons, zipped for upload to Teams (docs/TEAMS.md)."""

from __future__ import annotations

import json
import re
import struct
import uuid
import zipfile
import zlib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from bot.errors import UsageError

MANIFEST_TEMPLATE = ("manifests", "teams", "manifest.json")
COLOR_SIZE = 192  # Teams: full-colour icon, 192x192
OUTLINE_SIZE = 32  # Teams: white outline on a transparent background, 32x32
ACCENT = (0x1F, 0x5F, 0x8B)  # the manifest's accentColor
_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")

Pixel = tuple[int, int, int, int]


def build_package(
    app_id: str,
    output: Path,
    *,
    name: str = "engagebot",
    version: str = "1.0.0",
    developer: str = "engagebot",
    website_url: str = "https://example.org/engagebot",
    privacy_url: str = "",
    terms_url: str = "",
) -> Path:
    """Write the Teams app zip for the Azure Bot ``app_id`` (its Microsoft App ID) to ``output``; return the path.

    The app id doubles as the Teams app id, the bot id and the RSC ``webApplicationInfo.id``. Privacy and terms
    URLs default to the website URL (set real ones before publishing). Raises UsageError for a value Teams would
    reject.
    """
    values = _values(
        app_id, name, version, developer, website_url, privacy_url or website_url, terms_url or website_url
    )
    manifest = _fill(json.loads(_template()), values)
    output = Path(output)
    if output.is_dir():
        raise UsageError(f"--output {output} is a directory; give a file name such as engagebot-teams.zip")
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".part")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
            archive.writestr("color.png", color_icon())
            archive.writestr("outline.png", outline_icon())
        partial.replace(output)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise UsageError(f"cannot write {output}: {err.strerror}") from None
    return output


def _template() -> str:
    return resources.files("adapters").joinpath(*MANIFEST_TEMPLATE).read_text(encoding="utf-8")


def _values(
    app_id: str, name: str, version: str, developer: str, website: str, privacy: str, terms: str
) -> dict[str, str]:
    try:
        app_id = str(uuid.UUID(app_id.strip()))
    except ValueError:
        raise UsageError(f"app id {app_id!r} is not a GUID (the Azure Bot's Microsoft App ID)") from None
    name = name.strip()
    if not 1 <= len(name) <= 30:
        raise UsageError("--name must be 1 to 30 characters (Teams' short-name limit)")
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise UsageError(f"version {version!r} must look like 1.0.0")
    for flag, url in (("--website-url", website), ("--privacy-url", privacy), ("--terms-url", terms)):
        if not re.fullmatch(r"https://[^\s/]+\S*", url):
            raise UsageError(f"{flag} must be an https:// URL")
    return {
        "APP_ID": app_id,
        "NAME": name,
        "VERSION": version,
        "DEVELOPER": developer.strip() or "engagebot",
        "WEBSITE_URL": website,
        "PRIVACY_URL": privacy,
        "TERMS_URL": terms,
    }


def _fill(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, str):
        return _PLACEHOLDER.sub(lambda match: values[match.group(1)], node)
    if isinstance(node, list):
        return [_fill(item, values) for item in node]
    if isinstance(node, dict):
        return {key: _fill(value, values) for key, value in node.items()}
    return node


# --------------------------------------------------------------------------------------------------------------------
# Icons: a speech bubble, drawn in code and written as PNG with zlib (no imaging dependency)


def _bubble(u: float, v: float) -> bool:
    """Whether (u, v) in the unit square lies in the speech bubble: a rounded box with a tail at the bottom left."""
    left, top, right, bottom, radius = 0.16, 0.2, 0.84, 0.68, 0.12
    cx = min(max(u, left + radius), right - radius)
    cy = min(max(v, top + radius), bottom - radius)
    if left <= u <= right and top <= v <= bottom and (u - cx) ** 2 + (v - cy) ** 2 <= radius**2:
        return True
    # the tail: a triangle below the box
    return bottom <= v <= 0.84 and 0.3 <= u <= 0.3 + (0.84 - v) * 0.875


def _ring(u: float, v: float, width: float) -> bool:
    """The bubble's outline: inside the bubble but not inside it shrunk by ``width``."""
    if not _bubble(u, v):
        return False
    return any(not _bubble(u + du, v + dv) for du, dv in ((width, 0), (-width, 0), (0, width), (0, -width)))


def _draw(size: int, paint: Callable[[float, float], Pixel]) -> list[list[Pixel]]:
    return [[paint((x + 0.5) / size, (y + 0.5) / size) for x in range(size)] for y in range(size)]


def color_icon() -> bytes:
    """192x192: a white bubble with three accent dots on the accent colour."""
    white: Pixel = (255, 255, 255, 255)
    accent: Pixel = (*ACCENT, 255)

    def paint(u: float, v: float) -> Pixel:
        if not _bubble(u, v):
            return accent
        for dot in (0.34, 0.5, 0.66):
            if (u - dot) ** 2 + (v - 0.44) ** 2 <= 0.045**2:
                return accent
        return white

    return png(_draw(COLOR_SIZE, paint))


def outline_icon() -> bytes:
    """32x32: the bubble's white outline on transparency, as Teams requires."""

    def paint(u: float, v: float) -> Pixel:
        return (255, 255, 255, 255) if _ring(u, v, 2.2 / OUTLINE_SIZE) else (255, 255, 255, 0)

    return png(_draw(OUTLINE_SIZE, paint))


def png(rows: list[list[Pixel]]) -> bytes:
    """An 8-bit RGBA PNG of ``rows`` (top to bottom)."""
    height, width = len(rows), len(rows[0])
    raw = b"".join(b"\x00" + bytes(channel for pixel in row for channel in pixel) for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8 bits, RGBA, deflate, no filter, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
