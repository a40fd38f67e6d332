"""Conversation references name the channel and the bot, never a member: checked on the SQLite file's bytes, for
references saved now and for those an earlier version stored (the migration strips them)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity
from sqlite_utils import Database

from storage.repository import Repository
from storage.schema import migrations
from tests.fakes import (
    TEAMS_CHANNEL_ID,
    FakeTeamsConnector,
    teams_channel_mention,
    teams_channel_reply,
    teams_install_conversation_update,
    teams_message_reaction,
)
from tests.privacy_support import file_bytes
from tests.teams.harness import OTHER_CHANNEL, Harness

# Members active in the channels when their references were saved: none of this may reach the file.
MEMBERS: dict[str, dict[str, Any]] = {
    "installer": {"user_id": "29:1ZELDA-ID-5501", "user_name": "Zelda Quartermain", "aad_object_id": "aad-ZELDA-9911"},
    "asker": {"user_id": "29:1QUENTIN-ID-5502", "user_name": "Quentin Oddfellow", "aad_object_id": "aad-QUENTIN-9912"},
    "replier": {
        "user_id": "29:1OPHELIA-ID-5503",
        "user_name": "Ophelia Nettlebed",
        "aad_object_id": "aad-OPHELIA-9913",
    },
}
MARKERS = [value.encode() for member in MEMBERS.values() for value in member.values()]
STORED_KEYS = {"bot", "conversation", "channelId", "serviceUrl"}


async def test_references_are_saved_without_the_member_who_was_active(harness: Harness, tmp_path: Path) -> None:
    url = harness.url
    install = teams_install_conversation_update(service_url=url, **MEMBERS["installer"])
    assert await harness.send(install) == 201
    # the first activity from another channel saves that channel's reference: an @mention command, then a reply
    # and a reaction in a thread that is no prompt's
    asker, replier = MEMBERS["asker"], MEMBERS["replier"]
    assert await harness.send(teams_channel_mention("help", service_url=url, channel_id=OTHER_CHANNEL, **asker)) == 201
    for activity in (
        teams_channel_reply("hello", root_id="1732350000900", channel_id=OTHER_CHANNEL, service_url=url, **replier),
        teams_message_reaction(
            "like", reply_to_id="1732350000900", channel_id=OTHER_CHANNEL, service_url=url, **replier
        ),
    ):
        assert await harness.send(activity) == 201

    refs = {row["channel_id"]: json.loads(row["reference"]) for row in harness.rows("SELECT * FROM conversation_refs")}
    assert set(refs) >= {TEAMS_CHANNEL_ID, OTHER_CHANNEL}
    for reference in refs.values():
        assert set(reference) == STORED_KEYS
        assert set(reference["conversation"]) <= {"id", "isGroup", "conversationType", "tenantID"}
    assert refs[OTHER_CHANNEL]["conversation"]["id"] == OTHER_CHANNEL  # without the ;messageid= suffix
    data = file_bytes(tmp_path / "e.db")
    assert [marker for marker in MARKERS if marker in data] == []

    # and the reference still does its job
    post = await harness.runtime.engagement.post_prompt(harness.adapter.poster, TEAMS_CHANNEL_ID)
    (created,) = harness.connector.calls_to("create_conversation")[-1:]
    assert created["body"]["channelData"]["channel"]["id"] == TEAMS_CHANNEL_ID
    assert harness.rows("SELECT message_id FROM posts") == [{"message_id": post.message_id}]


def _old_database(path: Path, service_url: str) -> None:
    """A database of the previous version: references saved whole by botbuilder, with the active member."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA secure_delete = ON")
    db = Database(conn)
    stop = next(m.name for m in migrations.pending(db) if m.name.endswith("_conversation_refs_without_members"))
    migrations.apply(db, stop_before=stop)
    for name, channel in (("installer", TEAMS_CHANNEL_ID), ("asker", OTHER_CHANNEL)):
        activity = Activity().deserialize(
            teams_channel_mention("help", service_url=service_url, channel_id=channel, **MEMBERS[name])
        )
        reference = TurnContext.get_conversation_reference(activity)
        reference.conversation.id = channel  # as the previous version stored it: without the thread suffix
        conn.execute(
            "INSERT INTO conversation_refs (channel_id, service_url, reference, updated_at) VALUES (?, ?, ?, ?)",
            [channel, service_url, json.dumps(reference.serialize()), "2026-01-05T10:00:00+00:00"],
        )
    conn.close()


def test_the_migration_strips_members_from_stored_references(tmp_path: Path, connector: FakeTeamsConnector) -> None:
    path = tmp_path / "old.db"
    _old_database(path, connector.url)
    before = file_bytes(path)
    assert MEMBERS["installer"]["user_id"].encode() in before  # what the old version left in the file

    repo = Repository.open(path)
    try:
        data = file_bytes(path)
        assert [marker for marker in MARKERS if marker in data] == []
        rows = repo._rows("SELECT channel_id, service_url, reference FROM conversation_refs ORDER BY channel_id")
        assert [row["channel_id"] for row in rows] == sorted([TEAMS_CHANNEL_ID, OTHER_CHANNEL])
        for row in rows:
            reference = json.loads(row["reference"])
            assert set(reference) == STORED_KEYS
            assert (reference["serviceUrl"], reference["conversation"]["id"]) == (connector.url, row["channel_id"])
    finally:
        repo.close()
    data = file_bytes(path)
    assert [marker for marker in MARKERS if marker in data] == []
