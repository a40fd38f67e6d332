"""Display names learnt in a bounded background queue (adapters/slack/names.py): one users.info call per member,
never one per event; a full queue skips a member until they act again; a lookup that fails for a passing reason is
tried again later, Slack's refusal is final; close() stores what was found and never waits long."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

import adapters.slack.names as names
from tests.fakes import slack_event_body, slack_reaction_added, slack_thread_reply
from tests.slack.rig import CHANNEL, Rig


def named(rig: Rig) -> dict[str, str | None]:
    return {r["member_id"]: r["display_name"] for r in rig.rows("members")}


async def test_a_burst_asks_once_per_member_never_once_per_event(rig: Rig) -> None:
    post = await rig.post_prompt()
    users = ["UA1", "UA2", "UA3"]
    for user in users:
        rig.fake.display_names[user] = f"Name {user}"
    bodies = [
        slack_event_body(slack_thread_reply(f"r{n}", thread_ts=post.message_id, channel=CHANNEL, user=user), f"Ev{n}")
        for n, user in enumerate(users * 10)
    ]
    bodies += [
        slack_event_body(slack_reaction_added(name, ts=post.message_id, channel=CHANNEL, user=user), f"EvR{n}")
        for n, (user, name) in enumerate((u, r) for u in users for r in ("+1", "tada"))
    ]
    responses = await asyncio.gather(*(rig.raw(body) for body in bodies))
    assert [r.status for r in responses] == [200] * len(bodies)
    await rig.slack.wait_idle()
    assert sorted(c["args"]["user"] for c in rig.fake.calls_to("users.info")) == users
    assert named(rig) == {f"slack:{u}": f"Name {u}" for u in users}
    await rig.event(slack_thread_reply("again", thread_ts=post.message_id, channel=CHANNEL, user="UA1"))
    await rig.slack.wait_idle()
    assert len(rig.fake.calls_to("users.info")) == 3  # a member with a name is never asked again


async def test_a_full_queue_skips_members_until_they_act_again(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(names, "RETRY_DELAYS", (0.05, 0.05))
    post = await rig.post_prompt()
    rig.fake.hang.add("users.info")  # the first lookups stay in flight: the queue fills up
    queue: asyncio.Queue[tuple[str, str, int]] = asyncio.Queue(2)
    monkeypatch.setattr(rig.slack.names, "_queue", queue)
    monkeypatch.setattr(names, "WORKERS", 1)
    for n in range(5):
        reply = slack_thread_reply("hi", thread_ts=post.message_id, channel=CHANNEL, user=f"UQ{n}")
        await rig.event(reply)
    assert rig.count("replies") == 5  # capture never waits for names
    # One lookup in flight (UQ0), two queued (UQ1, UQ2): UQ3 and UQ4 were skipped.
    assert queue.qsize() == 2
    rig.fake.hang.discard("users.info")
    rig.fake.release_hanging()
    await rig.slack.wait_idle()
    looked_up = [c["args"]["user"] for c in rig.fake.calls_to("users.info")]
    assert sorted(set(looked_up)) == ["UQ0", "UQ1", "UQ2"]
    assert named(rig)["slack:UQ3"] is None
    await rig.event(slack_thread_reply("back", thread_ts=post.message_id, channel=CHANNEL, user="UQ3"))
    await rig.slack.wait_idle()
    assert named(rig)["slack:UQ3"] == "Member UQ3"


async def test_a_passing_failure_is_tried_again_later_and_a_refusal_is_final(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(names, "RETRY_DELAYS", (0.05, 0.05))
    post = await rig.post_prompt()
    rig.fake.display_names.update({"URETRY": "Retried", "UGONE": "Never"})
    rig.fake.fail_next("users.info", status=500, times=2)  # two 5xx: the third attempt gets the name
    await rig.event(slack_thread_reply("a", thread_ts=post.message_id, channel=CHANNEL, user="URETRY"))
    await rig.slack.wait_idle()
    assert [c["args"]["user"] for c in rig.fake.calls_to("users.info")] == ["URETRY"] * 3
    assert named(rig)["slack:URETRY"] == "Retried"

    rig.fake.fail_next("users.info", error="user_not_found")
    await rig.event(slack_thread_reply("b", thread_ts=post.message_id, channel=CHANNEL, user="UGONE"))
    await rig.slack.wait_idle()
    assert [c["args"]["user"] for c in rig.fake.calls_to("users.info")][3:] == ["UGONE"]  # asked once
    assert named(rig)["slack:UGONE"] is None


async def test_close_stores_the_names_found_and_gives_up_on_a_hanging_lookup(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(names, "CLOSE_SECONDS", 0.5)
    monkeypatch.setattr(names, "FLUSH_SECONDS", 3600.0)  # found names wait to be written: close() must write them
    post = await rig.post_prompt()
    rig.fake.display_names["UFOUND"] = "Found"
    await rig.event(slack_thread_reply("a", thread_ts=post.message_id, channel=CHANNEL, user="UFOUND"))
    await rig.slack.names._queue.join()  # UFOUND looked up; its name is not written yet
    assert named(rig) == {"slack:UFOUND": None}
    rig.fake.hang.add("users.info")
    await rig.event(slack_thread_reply("b", thread_ts=post.message_id, channel=CHANNEL, user="UHANG"))
    await rig.slack.close()  # what serve does on SIGTERM: the found name is written, the hanging one dropped
    with sqlite3.connect(rig.runtime.repo.path) as other:
        rows = dict(other.execute("SELECT member_id, display_name FROM members").fetchall())
    assert rows == {"slack:UFOUND": "Found", "slack:UHANG": None}
    assert sorted(c["args"]["user"] for c in rig.fake.calls_to("users.info")) == ["UFOUND", "UHANG"]
    rig.fake.hang.discard("users.info")
    rig.fake.release_hanging()


async def test_names_arrive_with_the_event_that_created_the_member(rig: Rig) -> None:
    """The name is asked for only once the member's first event is committed, and written through the writer."""
    post = await rig.post_prompt()
    rig.fake.display_names["UNEW"] = "Dr New"
    body = slack_event_body(slack_thread_reply("x", thread_ts=post.message_id, channel=CHANNEL, user="UNEW"), "EvN")
    assert (await rig.raw(body)).status == 200
    assert list(named(rig)) == ["slack:UNEW"]  # the member row is committed before the 200; the name follows
    await rig.slack.wait_idle()
    assert named(rig) == {"slack:UNEW": "Dr New"}
    assert (await rig.raw(body, headers={"X-Slack-Retry-Num": "1"})).status == 200  # a duplicate: no new lookup
    await rig.slack.wait_idle()
    assert len(rig.fake.calls_to("users.info")) == 1
