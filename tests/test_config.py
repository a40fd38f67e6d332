"""Configuration (SPEC §4): every bad value stops the CLI with exit code 2 and one line naming file, key and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

import app
from bot.config import DEFAULT_PROMPT_LIBRARY, ChannelConfig, load_settings
from bot.errors import ConfigError
from bot.events import Platform


def write_config(workdir: Path, monkeypatch: pytest.MonkeyPatch, text: str, name: str = "engagebot.toml") -> Path:
    path = workdir / name
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("ENGAGEBOT_CONFIG", str(path))
    monkeypatch.setenv("ENGAGEBOT_DB", str(workdir / "t.db"))
    return path


def run_failing(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = app.main(list(argv or ["prompts"]))
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


FILE_ERRORS = [
    pytest.param('timezone = "Mars/Olympus_Mons"\n', "timezone", "unknown timezone 'Mars/Olympus_Mons'", id="timezone"),
    pytest.param(
        '[schedule]\nprompts = "61 10 * * TUE"\n', "schedule.prompts", "'61 10 * * TUE' is not a cron", id="cron"
    ),
    pytest.param(
        '[schedule]\nsummary = "every monday"\n', "schedule.summary", "'every monday' is not a cron", id="cron-words"
    ),
    pytest.param(
        '[[channels]]\nplatform = "irc"\nid = "C1"\n',
        "channels[0].platform",
        "unknown platform 'irc'",
        id="platform",
    ),
    pytest.param(
        '[[summary_channels]]\nplatform = "discord"\nid = "C1"\n',
        "summary_channels[0].platform",
        "unknown platform 'discord'",
        id="summary-platform",
    ),
    pytest.param('prompt_library = "missing.toml"\n', "prompt_library", "not found", id="library"),
    pytest.param('colour = "red"\n', "colour", "unknown key", id="unknown-key"),
    pytest.param('[schedule]\nweekly = "0 9 * * MON"\n', "schedule.weekly", "unknown key", id="unknown-schedule-key"),
    pytest.param(
        '[[channels]]\nplatform = "slack"\nid = "C1"\ncolour = "red"\n',
        "channels[0].colour",
        "unknown key",
        id="unknown-channel-key",
    ),
    pytest.param('admins = ["bob"]\n', "admins", "'bob' is not a member id", id="admin"),
    pytest.param('admins = ["irc:bob"]\n', "admins", "'irc:bob' is not a member id", id="admin-platform"),
    pytest.param("timezone = 3\n", "timezone", "must be a non-empty string", id="timezone-type"),
    pytest.param("retention_days = 0\n", "retention_days", "at least 1", id="retention"),
    pytest.param(
        '[[channels]]\nplatform = "slack"\nid = "C1"\n[[channels]]\nplatform = "slack"\nid = "C1"\n',
        "channels[1]",
        "listed twice",
        id="duplicate-channel",
    ),
    pytest.param(
        '[[channels]]\nplatform = "slack"\nid = "C1"\nthemes = ["Workforce", "Astrology"]\n',
        "channels[0].themes",
        "unknown theme 'Astrology'",
        id="channel-theme",
    ),
]


@pytest.mark.parametrize(("text", "key", "reason"), FILE_ERRORS)
def test_bad_config_file_value(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: str, key: str, reason: str
) -> None:
    path = write_config(workdir, monkeypatch, text)
    line = run_failing(capsys, "prompts")
    assert line.startswith(f"engagebot: {path}: {key}: ")
    assert reason in line


def test_toml_syntax_error_names_file_and_line(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(workdir, monkeypatch, 'database = "x.db"\ntimezone = Europe/London\n')
    line = run_failing(capsys, "summary", "--json")
    assert line.startswith(f"engagebot: {path}: not valid TOML")
    assert "line 2" in line


def test_config_named_by_env_but_missing(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENGAGEBOT_CONFIG", str(workdir / "nowhere.toml"))
    line = run_failing(capsys, "prompts")
    assert line == f"engagebot: {workdir / 'nowhere.toml'}: file not found"


def test_default_config_is_read_from_the_working_directory(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "engagebot.toml").write_text('timezone = "Nowhere/Land"\n', encoding="utf-8")
    line = run_failing(capsys, "prompts")
    assert line.startswith(f"engagebot: {workdir / 'engagebot.toml'}: timezone: ")


ENV_ERRORS = [
    pytest.param({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET", "is not set", id="slack-secret"),
    pytest.param({"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN", "is not set", id="slack-token"),
    pytest.param(
        {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-2"}, "SLACK_APP_TOKEN", "xapp-", id="slack-app-token"
    ),
    pytest.param(
        {
            "MicrosoftAppId": "app",
            "MicrosoftAppPassword": "pw",
            "MicrosoftAppType": "SingleTenant",
        },
        "MicrosoftAppTenantId",
        "required when MicrosoftAppType is SingleTenant",
        id="single-tenant",
    ),
    pytest.param({"MicrosoftAppId": "app"}, "MicrosoftAppPassword", "is not set", id="teams-password"),
    pytest.param({"MicrosoftAppType": "Galactic"}, "MicrosoftAppType", "unknown app type", id="teams-type"),
    pytest.param({"PORT": "http"}, "PORT", "not a TCP port", id="port"),
    pytest.param({"PORT": "70000"}, "PORT", "not a TCP port", id="port-range"),
    pytest.param({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL", "unknown log level", id="log-level"),
    pytest.param({"ENGAGEBOT_ADMINS": "slack:U1,bob"}, "ENGAGEBOT_ADMINS", "'bob' is not a member id", id="env-admin"),
]


@pytest.mark.parametrize(("env", "key", "reason"), ENV_ERRORS)
def test_bad_environment_value(
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    key: str,
    reason: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    line = run_failing(capsys, "prompts")
    assert line.startswith(f"engagebot: {key}: ")
    assert reason in line
    for secret in ("xoxb-1", "pw"):
        assert secret not in line


def test_dotenv_file_is_read_and_its_errors_reported(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / ".env").write_text("SLACK_BOT_TOKEN=xoxb-from-dotenv\n", encoding="utf-8")
    line = run_failing(capsys, "prompts")
    assert line.startswith("engagebot: SLACK_SIGNING_SECRET: is not set")


def test_bad_prompt_library_file_through_cli(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    library = workdir / "library.toml"
    library.write_text(
        '[[themes]]\nname = "A"\nprompts = ["one"]\n[[themes]]\nname = "a"\nprompts = ["two"]\n', encoding="utf-8"
    )
    write_config(workdir, monkeypatch, 'prompt_library = "library.toml"\n')
    line = run_failing(capsys, "prompts", "--json")
    assert line == f"engagebot: {library}: themes[1].name: theme 'a' appears twice"


# -- values that load ---------------------------------------------------------------------------------------------


def test_full_config_loads(tmp_path: Path) -> None:
    (tmp_path / "lib.toml").write_text('[[themes]]\nname = "A"\nprompts = ["one"]\n', encoding="utf-8")
    (tmp_path / "engagebot.toml").write_text(
        """
timezone = "America/New_York"
database = "db/x.db"
admins = ["slack:UADMIN"]
prompt_library = "lib.toml"
[schedule]
prompts = "30 9 * * WED"
summary = "0 8 * * MON"
[[channels]]
platform = "slack"
id = "C1"
themes = ["A"]
[[channels]]
platform = "teams"
id = "19:abc@thread.tacv2"
[[summary_channels]]
platform = "slack"
id = "CADMIN"
""",
        encoding="utf-8",
    )
    env = {
        "ENGAGEBOT_ADMINS": "teams:29:1abc, slack:U2",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "sec",
        "PORT": "8080",
        "LOG_LEVEL": "debug",
    }
    settings = load_settings(env, cwd=tmp_path)
    assert settings.timezone_name == "America/New_York"
    assert settings.database == str(tmp_path / "db/x.db")
    assert settings.admins == {"slack:UADMIN", "teams:29:1abc", "slack:U2"}
    assert settings.prompt_library == tmp_path / "lib.toml"
    assert (settings.prompt_cron, settings.summary_cron) == ("30 9 * * WED", "0 8 * * MON")
    assert settings.channels == (
        ChannelConfig(Platform.SLACK, "C1", ("A",)),
        ChannelConfig(Platform.TEAMS, "19:abc@thread.tacv2"),
    )
    assert settings.summary_channels == (ChannelConfig(Platform.SLACK, "CADMIN"),)
    assert settings.slack is not None
    assert settings.slack.api_url == "https://slack.com/api/"
    assert (settings.port, settings.log_level) == (8080, "DEBUG")
    assert settings.is_admin("slack:U2")
    assert not settings.is_admin("slack:U3")


def test_defaults_without_any_file(tmp_path: Path) -> None:
    settings = load_settings({}, cwd=tmp_path)
    assert settings.timezone_name == "Europe/London"
    assert settings.database == str(tmp_path / "data/engagement.db")
    assert settings.prompt_library == DEFAULT_PROMPT_LIBRARY
    assert (settings.prompt_cron, settings.summary_cron) == ("0 10 * * TUE", "0 9 * * MON")
    assert settings.slack is None
    assert not settings.teams.auth_enabled
    assert (settings.host, settings.port, settings.log_level) == ("127.0.0.1", 3978, "INFO")


def test_engagebot_db_overrides_the_file(tmp_path: Path) -> None:
    (tmp_path / "engagebot.toml").write_text('database = "from-file.db"\n', encoding="utf-8")
    settings = load_settings({"ENGAGEBOT_DB": "from-env.db"}, cwd=tmp_path)
    assert settings.database == str(tmp_path / "from-env.db")


def test_process_environment_wins_over_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LOG_LEVEL=WARNING\nPORT=4000\n", encoding="utf-8")
    settings = load_settings({"LOG_LEVEL": "ERROR"}, cwd=tmp_path)
    assert (settings.log_level, settings.port) == ("ERROR", 4000)


def test_config_error_carries_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "engagebot.toml").write_text('timezone = "Bad/Zone"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings({}, cwd=tmp_path)
    assert (caught.value.source, caught.value.key) == (str(tmp_path / "engagebot.toml"), "timezone")
