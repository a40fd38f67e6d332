"""The prompt library (SPEC §6): the shipped default, loading errors, and the rotation rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import DEFAULT_PROMPT_LIBRARY, ChannelConfig, Settings
from bot.errors import ConfigError, UsageError
from bot.events import Platform
from bot.prompts import Library, PostedPrompt, Prompt, library_from_dict, load_library, next_prompt
from bot.service import Engagement
from storage.repository import Repository

SEED_THEMES = [
    "Prevention",
    "Innovation and technology",
    "Neighbourhood health",
    "Workforce",
    "Quality management and regulation",
    "Genomics, life sciences and research",
]
T = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)


def small_library() -> Library:
    return library_from_dict(
        {
            "themes": [
                {"name": "Alpha", "prompts": ["a1", "a2", "a3"]},
                {"name": "Beta", "prompts": ["b1", "b2"]},
                {"name": "Gamma", "prompts": ["g1", "g2"]},
            ]
        }
    )


def run_rotation(library: Library, count: int, **kwargs: object) -> list[Prompt]:
    """Post ``count`` prompts into one channel, a day apart, each chosen by the rotation."""
    history: list[PostedPrompt] = []
    chosen = []
    for n in range(count):
        prompt = next_prompt(library, history, **kwargs)  # type: ignore[arg-type]
        chosen.append(prompt)
        history.append(PostedPrompt(prompt.theme, prompt.text, T + timedelta(days=n)))
    return chosen


# -- the default library -------------------------------------------------------------------------------------------


def test_default_library_has_the_seed_themes_and_open_questions() -> None:
    library = load_library(DEFAULT_PROMPT_LIBRARY)
    names = list(library.theme_names())
    assert len(names) == 7
    assert names[:6] == SEED_THEMES
    for theme in library.themes:
        assert len(theme.prompts) >= 5, theme.name
        assert theme.description, theme.name
        for prompt in theme.prompts:
            assert prompt.text.strip() == prompt.text
            assert 20 < len(prompt.text) < 400, prompt.text
    texts = " ".join(p.text.lower() for p in library.themes[6].prompts)
    for topic in ("leadership and influence", "contribute", "medical physics and clinical engineering"):
        assert topic in texts, topic
    all_texts = [p.text for p in library.prompts]
    assert len(all_texts) == len(set(all_texts))


def test_default_library_is_written_for_healthcare_science() -> None:
    text = " ".join(p.text for p in load_library(DEFAULT_PROMPT_LIBRARY).prompts).lower()
    for word in ("healthcare scien", "nhs", "genomic", "workforce", "regulat", "prevent"):
        assert word in text, word


# -- loading errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        pytest.param(
            '[[themes]]\nname = "A"\nprompts = ["x"]\n[[themes]]\nname = " A "\nprompts = ["y"]\n',
            "themes[1].name",
            "appears twice",
            id="duplicate-theme",
        ),
        pytest.param('[[themes]]\nname = "A"\nprompts = []\n', "themes[0].prompts", "non-empty list", id="empty"),
        pytest.param('[[themes]]\nname = "A"\n', "themes[0].prompts", "non-empty list", id="no-prompts"),
        pytest.param('[[themes]]\nname = "A"\nprompts = ["x", " "]\n', "themes[0].prompts", "non-empty", id="blank"),
        pytest.param(
            '[[themes]]\nname = "A"\nprompts = ["x", "x"]\n', "themes[0].prompts", "same prompt twice", id="repeat"
        ),
        pytest.param('[[themes]]\nname = ""\nprompts = ["x"]\n', "themes[0].name", "non-empty string", id="no-name"),
        pytest.param('title = "nothing"\n', "themes", "non-empty array", id="no-themes"),
        pytest.param(
            '[[themes]]\nname = "A"\ndescription = 3\nprompts = ["x"]\n',
            "themes[0].description",
            "must be a string",
            id="description",
        ),
    ],
)
def test_library_errors_name_file_and_key(tmp_path: Path, text: str, key: str, reason: str) -> None:
    path = tmp_path / "lib.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_library(path)
    assert (caught.value.source, caught.value.key) == (str(path), key)
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{path}: {key}: ")


def test_library_syntax_error_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "lib.toml"
    path.write_text("[[themes]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        load_library(path)
    assert caught.value.source == str(path)
    with pytest.raises(ConfigError, match="not found") as missing:
        load_library(tmp_path / "none.toml")
    assert missing.value.key == "prompt_library"


# -- rotation -------------------------------------------------------------------------------------------------------


def test_themes_take_turns_in_library_order() -> None:
    themes = [p.theme for p in run_rotation(small_library(), 7)]
    assert themes == ["Alpha", "Beta", "Gamma", "Alpha", "Beta", "Gamma", "Alpha"]


def test_no_repeat_in_a_channel_while_unposted_prompts_remain() -> None:
    chosen = [p.text for p in run_rotation(small_library(), 7)]
    assert len(set(chosen)) == 7  # all seven prompts before any repeat
    assert chosen == ["a1", "b1", "g1", "a2", "b2", "g2", "a3"]
    after = [p.text for p in run_rotation(small_library(), 12)][7:]
    assert after == ["b1", "g1", "a1", "b2", "g2"]  # then the least recently posted of each theme


def test_least_recently_posted_first_within_a_theme() -> None:
    history = [
        PostedPrompt("Alpha", "a2", T),
        PostedPrompt("Alpha", "a1", T + timedelta(days=1)),
        PostedPrompt("Alpha", "a3", T + timedelta(days=2)),
        PostedPrompt("Alpha", "a2", T + timedelta(days=3)),  # a2 posted again: now a1 is the oldest
        PostedPrompt("Beta", "b1", T + timedelta(days=4)),
    ]
    assert next_prompt(small_library(), history, theme="Alpha") == Prompt("Alpha", "a1")


def test_rotation_resumes_after_the_latest_post_whatever_the_history_order() -> None:
    history = [PostedPrompt("Beta", "b1", T + timedelta(days=2)), PostedPrompt("Gamma", "g1", T)]
    assert next_prompt(small_library(), history).theme == "Gamma"


def test_channel_limited_to_some_themes() -> None:
    chosen = run_rotation(small_library(), 5, allowed_themes=("Gamma", "Alpha"))
    assert [p.theme for p in chosen] == ["Alpha", "Gamma", "Alpha", "Gamma", "Alpha"]
    assert [p.text for p in chosen] == ["a1", "g1", "a2", "g2", "a3"]


def test_explicit_theme_is_case_insensitive_and_accepts_a_unique_prefix() -> None:
    assert next_prompt(small_library(), [], theme="beta") == Prompt("Beta", "b1")
    assert next_prompt(small_library(), [], theme="  GAM") == Prompt("Gamma", "g1")
    library = load_library(DEFAULT_PROMPT_LIBRARY)
    assert next_prompt(library, [], theme="genomics").theme == "Genomics, life sciences and research"


def test_unknown_theme_is_a_usage_error_listing_the_themes() -> None:
    with pytest.raises(UsageError, match=r"unknown theme 'Delta'; themes are: Alpha; Beta; Gamma"):
        next_prompt(small_library(), [], theme="Delta")
    with pytest.raises(UsageError, match="unknown theme"):
        next_prompt(small_library(), [], theme="")


def test_theme_not_enabled_for_the_channel() -> None:
    with pytest.raises(UsageError, match="'Beta' is not enabled for this channel"):
        next_prompt(small_library(), [], allowed_themes=("Alpha",), theme="Beta")


def test_channel_limited_to_themes_that_do_not_exist() -> None:
    with pytest.raises(UsageError, match="not in the prompt library"):
        next_prompt(small_library(), [], allowed_themes=("Omega",))


def test_rotation_per_channel_from_stored_history(repo: Repository, settings_factory: Callable[..., Settings]) -> None:
    library = small_library()
    settings = settings_factory(channels=(ChannelConfig(Platform.SLACK, "C2", ("Beta",)),))
    engagement = Engagement(settings, library, repo)
    repo.sync_prompts(library)
    posted: dict[str, list[str]] = {"C1": [], "C2": []}
    for n in range(4):
        for channel in ("C1", "C2"):
            prompt = engagement.choose_prompt(Platform.SLACK, channel)
            repo.record_post(Platform.SLACK, channel, f"{channel}-{n}", prompt, T + timedelta(days=n))
            posted[channel].append(prompt.text)
    assert posted == {"C1": ["a1", "b1", "g1", "a2"], "C2": ["b1", "b2", "b1", "b2"]}
    # a Teams channel with the same id has its own history
    assert engagement.choose_prompt(Platform.TEAMS, "C1") == Prompt("Alpha", "a1")
    listing = {(i["theme"], i["prompt"]): i["last_posted"] for i in engagement.prompt_listing()}
    assert listing[("Beta", "b1")] == "2026-11-05T10:00:00+00:00"
    assert listing[("Alpha", "a3")] is None


def test_sync_prompts_marks_removed_prompts_inactive(repo: Repository) -> None:
    repo.sync_prompts(small_library())
    repo.sync_prompts(library_from_dict({"themes": [{"name": "Alpha", "prompts": ["a1", "a9"]}]}))
    rows = repo.db.execute("SELECT theme, text, active FROM prompts ORDER BY theme, text").fetchall()
    assert ("Alpha", "a1", 1) in rows
    assert ("Alpha", "a9", 1) in rows
    assert ("Beta", "b1", 0) in rows
    assert len(rows) == 8
