"""The report's counts read as English whatever their size: "1 member replied", "W41: 1 reply", never "1 replies".

A small community in a real SQLite file, written through the real capture rules: in the first week one member
replies in Workforce (a barrier) while a second replies in Prevention and a third backs that reply with a "+1"; in
the second week only the first member replies again. With the thresholds at 1 every small figure is printed.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.capture import Capture
from bot.events import Platform, ReactionAdded, ReplyPosted
from bot.prompts import Prompt
from bot.report import ReportOptions, build_report, document, gather
from bot.timeutil import IsoWeek
from storage.repository import Repository
from tests.report_community import FIRST, LONDON

THEMES = ["Workforce", "Prevention"]
CHANNEL = "C0WORDS"
SECOND = IsoWeek(FIRST.year, FIRST.week + 1)
GENERATED = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
WRONG = re.compile(r"\b1 (?:members|replies|reactions|endorsements|“\+1” endorsements|participants|weeks|people)\b")


def _community(path: Path) -> Repository:
    source = Repository.open(path)
    capture = Capture(source)
    tuesday = FIRST.bounds(LONDON)[0] + timedelta(days=1, hours=10)
    source.set_consent("slack:UPREV", "quote", True, tuesday - timedelta(days=30))
    workforce = source.record_post(Platform.SLACK, CHANNEL, "P1", Prompt("Workforce", "What keeps you?"), tuesday)
    prevention = source.record_post(Platform.SLACK, CHANNEL, "P2", Prompt("Prevention", "What works?"), tuesday)
    replies = [  # post, minutes after the prompt, member, text
        (workforce, 10, "UWORK", "We cannot get protected time for training because of the backlog in imaging."),
        (prevention, 20, "UPREV", "Screening works well when the clinics share results with primary care each week."),
        (prevention, 30, "UBACK", "+1"),
        (workforce, 7 * 24 * 60, "UWORK", "Thanks for asking about this here."),
    ]
    for n, (post, minutes, user, text) in enumerate(replies, 1):
        capture.apply(ReplyPosted(platform=Platform.SLACK, channel_id=CHANNEL, event_key=f"E{n}",
                                  occurred_at=post.posted_at + timedelta(minutes=minutes), thread_id=post.message_id,
                                  message_id=f"M{n}", user_id=user, text=text))  # fmt: skip
    at = tuesday + timedelta(hours=1)
    capture.apply(ReactionAdded(platform=Platform.SLACK, channel_id=CHANNEL, event_key="E9", target_id="P1",
                                occurred_at=at, user_id="UPREV", name="thumbsup"))  # fmt: skip
    return source


@pytest.mark.parametrize("exact", [True, False])
def test_counts_of_one_read_in_the_singular_and_the_rest_in_the_plural(tmp_path: Path, exact: bool) -> None:
    source = _community(tmp_path / "words.db")
    try:
        data = gather(source, FIRST, SECOND, LONDON, themes=THEMES)
    finally:
        source.close()
    options = ReportOptions(min_group_size=1, report_min_members=1, exact=exact)
    page = document(build_report(data, options), generated_at=GENERATED)
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))

    assert '<p class="who">1 member replied</p>' in page  # Workforce
    assert "<b>1</b>reply raises a barrier" in page
    assert "<b>0</b>replies ask for something" in page
    assert "2 members replied · 1 “+1” endorsement folded into the reply it backs" in text  # Prevention
    assert "backed by 1 other member" in text
    assert "W41: 1 participant (0 new, 1 returning)" in text  # the participants chart
    assert "W41: 1 reply (1 Slack)" in text  # the replies chart
    assert "Workforce, W41: 1 reply" in text  # the heatmap
    assert "Prevention, W41: 0 replies" in text
    assert "Prevention: 2 replies; Workforce: 2 replies" in text  # the bars
    assert "Theme text from at least 1 member " in text
    assert "summarised only when at least 1 member replied in it" in text
    assert ("Exact figures" in text) is exact
    assert ("The threshold is 1 person: no figure is withheld" in text) is not exact
    assert WRONG.findall(text) == []
