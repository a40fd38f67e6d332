"""What the report reads in members' text: shared phrases, marker counts, "+1" folding and quote choice; and the
demo's member text that the report is shown on."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import DEFAULT_PROMPT_LIBRARY
from bot.demo import corpus, make_members, plan_thread, vary
from bot.events import Platform
from bot.prompts import load_library
from bot.report.markers import parse_markers, shipped_markers
from bot.report.model import ReportReply
from bot.report.quotes import choose_quotes, fold_endorsements, printable
from bot.report.text import across_themes, clean, content, theme_phrases
from tests.report_community import wordings

T0 = datetime(2026, 10, 6, 10, 0, tzinfo=UTC)


def rows(theme: str, texts_by_member: dict[str, list[str]]) -> list[tuple[str, str, str]]:
    return [(theme, member, content(clean(t))) for member, texts in texts_by_member.items() for t in texts]


def phrases_of(result, theme):
    return {p.text: p.members for t in result if t.theme == theme for p in t.phrases}


def test_a_phrase_needs_three_different_members_not_three_replies():
    texts = {
        "slack:U1": ["Protected time is the issue.", "Protected time again.", "Still no protected time."],
        "slack:U2": ["We need protected time for QA."],
        "slack:U3": ["Equipment replacement is overdue."],
    }
    found = phrases_of(theme_phrases(rows("Workforce", texts)), "Workforce")
    assert "protected time" not in found  # two members, however often they say it
    texts["teams:29:a"] = ["Protected time, please!"]
    found = phrases_of(theme_phrases(rows("Workforce", texts)), "Workforce")
    assert found["protected time"] == 3
    assert "protected" not in found
    assert "time" not in found


def test_phrases_do_not_run_across_punctuation_or_stop_words_and_skip_the_theme_name():
    texts = {
        f"slack:U{i}": ["Prevention matters. Screening works, data sharing helps the screening programme."]
        for i in range(4)
    }
    found = phrases_of(theme_phrases(rows("Prevention", texts)), "Prevention")
    assert "prevention" not in found  # a word of the theme's own name
    assert "works data" not in found
    assert "matters screening" not in found
    assert "data sharing" in found
    assert "screening programme" in found
    assert not any(word == "the" for phrase in found for word in phrase.split(" "))


def test_a_minority_longer_phrase_folds_into_the_shorter_one():
    texts = {f"slack:U{i}": ["equipment replacement is overdue"] for i in range(8)}
    for i in range(3):
        texts[f"teams:29:{i}"] = ["the equipment replacement programme is stalled"]
    found = phrases_of(theme_phrases(rows("Quality", texts)), "Quality")
    assert found["equipment replacement"] == 11
    assert "equipment replacement programme" not in found


def test_a_sentence_several_members_wrote_is_not_cut_into_phrases():
    sentence = "Routine QA freed clinical physicists for complex dosimetry work."
    texts = {f"slack:U{i}": [sentence, f"We need protected time, case {i}."] for i in range(5)}
    texts.update({f"teams:29:{i}": ["Protected time for audit would help."] for i in range(2)})
    found = phrases_of(theme_phrases(rows("Workforce", texts)), "Workforce")
    assert found["protected time"] == 7  # said in different sentences: a shared phrase
    windows = ("routine qa freed", "qa freed clinical", "freed clinical physicists", "qa freed", "freed clinical")
    assert not set(windows) & set(found), found  # windows into one sentence everybody wrote
    texts.update({f"slack:V{i}": ["Routine QA is the first thing dropped."] for i in range(4)})
    found = phrases_of(theme_phrases(rows("Workforce", texts)), "Workforce")
    assert found["routine qa"] == 9  # also said in other sentences: shared in its own right


def test_a_single_word_most_themes_share_is_not_a_phrase_of_any():
    themes = ("A", "B", "C", "D")
    result = theme_phrases(
        [
            row
            for index, theme in enumerate(themes)
            for row in rows(
                theme,
                {
                    f"slack:{theme}{i}": [f"Equipment replacement. {'Staffing' if index < 3 else 'Theranostics'}!"]
                    for i in range(3)
                },
            )
        ]
    )
    assert "staffing" not in phrases_of(result, "A")  # three of four themes: says nothing about A
    assert phrases_of(result, "D")["theranostics"] == 3
    assert phrases_of(result, "A")["equipment replacement"] == 3  # phrases of several words are kept


def test_generic_phrases_from_the_stop_list_are_not_reported():
    texts = {f"slack:U{i}": ["Healthcare scientists need registration."] for i in range(5)}
    found = phrases_of(theme_phrases(rows("Workforce", texts)), "Workforce")
    assert "healthcare scientists" not in found
    assert found["registration"] == 5


def test_specific_phrases_rank_above_phrases_every_theme_shares():
    texts_a = {f"slack:U{i}": ["staffing pressure and theranostics planning"] for i in range(6)}
    texts_b = {f"slack:V{i}": ["staffing pressure, everywhere"] for i in range(6)}
    result = theme_phrases(rows("Research", texts_a) + rows("Workforce", texts_b))
    ranked = [p.text for t in result if t.theme == "Research" for p in t.phrases]
    assert ranked.index("theranostics planning") < ranked.index("staffing pressure")


def test_concerns_across_themes_list_each_theme_with_its_member_count():
    texts = {f"slack:U{i}": ["no protected time"] for i in range(4)}
    result = theme_phrases(rows("A", texts) + rows("B", {f"slack:V{i}": ["protected time please"] for i in range(3)}))
    concerns = across_themes(result)
    assert [(c.text, c.themes) for c in concerns] == [("protected time", (("A", 4), ("B", 3)))]


def test_markers_match_whole_words_wildcards_and_curly_apostrophes():
    markers = parse_markers(
        """
        [barrier]
        label = "raise a barrier"
        phrases = ["understaff*", "can't", "no time"]
        [ask]
        phrases = ["we need"]
        [endorsement]
        phrases = ["+1", "same here"]
        """
    )
    assert markers.classify("We’re UNDERSTAFFED and can’t cope") == ("barrier",)
    assert markers.classify("Staff understand the need") == ()
    assert markers.classify("There is no timetable") == ()
    assert markers.classify("No time. We need help!") == ("barrier", "ask")
    assert [m.label for m in markers.markers] == ["raise a barrier", "ask"]


@pytest.mark.parametrize("text", ["+1", "Same here!", ":+1:", "👍", "  +1 👍 "])
def test_endorsements_are_recognised(text):
    assert shipped_markers().is_endorsement(text)


@pytest.mark.parametrize("text", ["", "+1 but we also need protected time for QA", "I agree with the barrier point"])
def test_replies_that_say_something_are_not_endorsements(text):
    assert not shipped_markers().is_endorsement(text)


def test_a_malformed_markers_file_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\[barrier\] needs a list of phrases"):
        parse_markers('[barrier]\nphrases = "oops"\n')
    with pytest.raises(ValueError, match="markers file"):
        parse_markers("[barrier\n")


def reply(i: int, member: str, text: str, *, post: int = 1, ok: bool = True, minutes: int = 0) -> ReportReply:
    at = T0 + timedelta(minutes=minutes or i)
    return ReportReply(i, post, "Workforce", Platform.SLACK, member, text, at, ok)


def test_plus_ones_back_the_previous_reply_by_someone_else_and_are_never_quoted():
    replies = [
        reply(1, "slack:A", "Protected time for supervision has made a real difference to our trainees."),
        reply(2, "slack:B", "+1"),
        reply(3, "slack:C", "Same here."),
        reply(4, "slack:A", "Agreed."),  # A backing their own reply backs nothing
        reply(5, "slack:D", "+1", post=2),  # nothing earlier in that thread
    ]
    folded = fold_endorsements(replies, shipped_markers())
    assert [r.id for r in folded.replies] == [1]
    assert folded.endorsers == {1: frozenset({"slack:B", "slack:C"})}
    assert folded.endorsements == 4
    quotes = choose_quotes(folded)
    assert [(q.reply_id, q.endorsers) for q in quotes] == [(1, 2)]


def test_quotes_come_only_from_consenting_members_and_say_different_things():
    texts = [
        "Protected time for supervision has made a real difference to how our STP trainees settle in.",
        "Protected time for supervision has made a real difference to how our trainees settle in, honestly.",
        "Apprenticeships have worked well: two apprentices are now qualified clinical technologists.",
        "We have three vacancies open for over a year and locums are simply not available in our field.",
        "Career progression beyond band 8a without leaving the bench would keep experienced scientists.",
    ]
    replies = [reply(i, f"slack:M{i}", t, ok=i != 3) for i, t in enumerate(texts)]
    replies.append(
        reply(9, "slack:X", "Secret view nobody agreed to share about the protected time problem.", ok=False)
    )
    quotes = choose_quotes(fold_endorsements(replies, shipped_markers()), count=3)
    chosen = [q.reply_id for q in quotes]
    assert len(chosen) == 3
    assert 3 not in chosen
    assert 9 not in chosen
    assert not {0, 1} <= set(chosen)  # two near-identical replies: at most one of them


def test_quotes_leave_out_replies_that_mention_someone_and_print_text_safely():
    replies = [
        reply(1, "slack:A", "<@U0OTHER> said protected time is the real barrier for our whole team here."),
        reply(2, "slack:B", "Protected time is the real barrier, see <https://example.org/a|our write-up> for more."),
    ]
    quotes = choose_quotes(fold_endorsements(replies, shipped_markers()))
    assert [q.reply_id for q in quotes] == [2]
    assert quotes[0].text == "Protected time is the real barrier, see our write-up for more."
    assert printable("<at>Priya Patel</at> agrees") == "@colleague agrees"
    assert printable("x" * 500).endswith("…")


# -- the demo's members ----------------------------------------------------------------------------------------------


def test_the_demo_corpus_covers_every_theme_of_the_library_with_varied_text():
    text = corpus()
    for theme in load_library(DEFAULT_PROMPT_LIBRARY).themes:
        points = text.themes[theme.name]
        assert sum(len(v) for v in points.values()) >= 25, theme.name
        assert all(points[kind] for kind in ("barriers", "works", "asks"))
    assert len(text.specialties) >= 8
    assert text.endorsements
    assert all(shipped_markers().is_endorsement(e) for e in text.endorsements)  # the report folds every "+1"
    assert text.closers


def test_corpus_choices_vary_the_wording_but_keep_the_point():
    line = "Our QA data could {flag|show} problems early."
    seen = {vary(random.Random(seed), line) for seed in range(20)}
    assert seen == {"Our QA data could flag problems early.", "Our QA data could show problems early."}
    assert all(wordings(line).fullmatch(text) for text in seen)


def plan(seed: int, theme: str = "Workforce"):
    rng = random.Random(seed)
    members = make_members(rng, Platform.SLACK, 30)
    serial = itertools.count()
    return members, plan_thread(rng, members, "P1", T0, lambda at: f"M{next(serial)}", 1.2, theme=theme)


def test_demo_threads_are_theme_specific_deterministic_and_include_plus_ones_and_consents():
    members, thread = plan(3)
    again = plan(3)[1]
    assert [r.text for r in thread.replies] == [r.text for r in again.replies]
    points = [wordings(p) for kind in corpus().themes["Workforce"].values() for p in kind]
    substantive = [r for r in thread.replies if not shipped_markers().is_endorsement(r.text)]
    assert all(any(p.search(r.text) for p in points) for r in substantive)
    assert not any("{" in r.text or "|" in r.text for r in thread.replies)  # every {a|b} choice was made
    all_replies = [r for seed in range(6) for r in plan(seed)[1].replies]
    assert any(shipped_markers().is_endorsement(r.text) for r in all_replies)
    assert len({r.text for r in all_replies}) > 0.8 * len(all_replies)
    consenting = {m.user_id for m in members if m.quote_consent != "none"}
    assert {c.member.user_id for c in thread.consents} == {r.member.user_id for r in thread.replies} & consenting
    assert {c.via for c in thread.consents} <= {"command", "emoji"}
    assert all(c.target_id == "P1" for c in thread.consents if c.via == "emoji")


def test_teams_members_consent_by_command_only():
    members = make_members(random.Random(1), Platform.TEAMS, 40)
    assert {m.quote_consent for m in members} == {"none", "command"}
