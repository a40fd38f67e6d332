"""The Teams app package: its zip, manifest and icons."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from adapters.teams_package import build_package
from bot.commands import ADMIN, PUBLIC
from bot.errors import UsageError
from tests.fakes import TEST_APP_ID

# --------------------------------------------------------------------------------------------------------------------
# The app package


def test_teams_package_zip(tmp_path: Path) -> None:
    path = build_package(TEST_APP_ID, tmp_path / "out" / "engagebot-teams.zip", name="EngageBot")
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
        icons = {name: archive.read(name) for name in ("color.png", "outline.png")}

    assert "{{" not in json.dumps(manifest)
    assert manifest["id"] == manifest["webApplicationInfo"]["id"] == TEST_APP_ID
    assert manifest["name"]["short"] == "EngageBot"
    (bot,) = manifest["bots"]
    assert (bot["botId"], sorted(bot["scopes"]), bot["supportsFiles"]) == (TEST_APP_ID, ["personal", "team"], True)
    lists = {tuple(item["scopes"]): [c["title"] for c in item["commands"]] for item in bot["commandLists"]}
    assert {"help", "summary", "post", "themes", "schedule", "export", "optout", "optin"} <= set(lists[("team",)])
    assert {"summary", "export", "report"} <= set(lists[("personal",)])  # files are offered in personal chat
    assert all(len(titles) <= 10 for titles in lists.values())  # schema 1.16: at most ten suggestions a list
    # Every command is suggested somewhere; a member's privacy choices all in personal chat.
    assert set(lists[("team",)]) | set(lists[("personal",)]) == {*PUBLIC, *ADMIN}
    assert {"privacy", "mydata", "optout", "optin", "quote"} <= set(lists[("personal",)])
    assert manifest["authorization"]["permissions"]["resourceSpecific"] == [
        {"name": "ChannelMessage.Read.Group", "type": "Application"}
    ]
    for name, size in (("color.png", 192), ("outline.png", 32)):
        data = icons[name]
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", data[16:24]) == (size, size)
        assert zlib.crc32(data[12:29]) == struct.unpack(">I", data[29:33])[0]  # the IHDR chunk's CRC

    with pytest.raises(UsageError, match="GUID"):
        build_package("not-a-guid", tmp_path / "x.zip")
    with pytest.raises(UsageError, match="30 characters"):
        build_package(TEST_APP_ID, tmp_path / "x.zip", name="x" * 31)
    with pytest.raises(UsageError, match="directory"):
        build_package(TEST_APP_ID, tmp_path)
    assert not (tmp_path / "x.zip").exists()
