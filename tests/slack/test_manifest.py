"""The Slack app manifest asks for exactly the scopes and events the adapter uses."""

from __future__ import annotations

from pathlib import Path

from bot.commands import ADMIN, PUBLIC


def _manifest_list(text: str, key: str) -> list[str]:
    """The items of one YAML block list (``key:`` then ``- item`` lines) from the manifest, comments dropped."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"{key}:")
    items = []
    for line in lines[start + 1 :]:
        stripped = line.split("#", 1)[0].strip()
        if not stripped.startswith("- "):
            break
        items.append(stripped[2:].strip())
    return items


def test_manifest_requests_exactly_what_the_adapter_uses() -> None:
    text = (Path(__file__).parent.parent.parent / "adapters" / "manifests" / "slack.yaml").read_text(encoding="utf-8")
    assert sorted(_manifest_list(text, "bot")) == sorted(
        [
            "chat:write",
            "channels:history",
            "groups:history",
            "reactions:read",
            "commands",
            "users:read",
            "files:write",
            "im:write",
            "channels:read",
            "groups:read",
        ]
    )
    assert _manifest_list(text, "bot_events") == [
        "message.channels",
        "message.groups",
        "reaction_added",
        "reaction_removed",
    ]
    urls = [
        line.split(":", 1)[1].strip() for line in text.splitlines() if line.strip().startswith(("url:", "request_url:"))
    ]
    assert urls == ["https://YOUR-HOST/slack/events"] * 3
    assert "command: /engage" in text
    [hint] = [line.split(":", 1)[1].strip().strip('"') for line in text.splitlines() if "usage_hint:" in line]
    listed = [usage.split()[0] for usage in hint.split(" | ")]
    assert sorted(listed) == sorted([*PUBLIC, *ADMIN])  # every subcommand, members' and admins', once
    assert "quote ok|off" in hint
    assert "is_enabled: true" in text
