"""Configuration (SPEC §4): every bad value stops the CLI with exit code 2 and one line naming file, key and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import DEFAULT_PROMPT_LIBRARY, ChannelConfig, TeamsSettings, load_settings
from bot.errors import ConfigError
from bot.events import Platform
from tests.cli_support import one_line_error


def write_config(workdir: Path, monkeypatch: pytest.MonkeyPatch, text: str, name: str = "engagebot.toml") -> Path:
    path = workdir / name
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("ENGAGEBOT_CONFIG", str(path))
    monkeypatch.setenv("ENGAGEBOT_DB", str(workdir / "t.db"))
    return path


CREDENTIALS = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "ENGAGEBOT_TEAMS_EMULATOR": "1"}
SLACK_WHERE = "(in Slack: click the channel's name; the id is at the bottom of About)"
TEAMS_WHERE = "(in Teams: the channel's ⋯ > Get link to channel; paste the whole link)"
TEAMS_LINK = "https://teams.microsoft.com/l/channel/19%3aAbC123dEf%40thread.tacv2/Policy?groupId=0f8e&tenantId=72f9"


def slack_channel(channel_id: str) -> str:
    return f'[[channels]]\nplatform = "slack"\nid = "{channel_id}"\n'


def teams_channel(channel_id: str, table: str = "channels") -> str:
    return f'[[{table}]]\nplatform = "teams"\nid = "{channel_id}"\n'


# (file text, key, the exact reason after "engagebot: FILE: KEY: ")
FILE_ERRORS = [
    pytest.param(
        'timezone = "Mars/Olympus_Mons"\n',
        "timezone",
        "unknown timezone 'Mars/Olympus_Mons' (use an IANA name such as Europe/London)",
        id="timezone",
    ),
    pytest.param(
        '[schedule]\nprompts = "61 10 * * TUE"\n',
        "schedule.prompts",
        "'61 10 * * TUE': minute 61 is out of range 0-59",
        id="cron-minute",
    ),
    pytest.param(
        '[schedule]\nsummary = "0 9 32 * *"\n',
        "schedule.summary",
        "'0 9 32 * *': day-of-month 32 is out of range 1-31",
        id="cron-day-of-month",
    ),
    pytest.param(
        '[schedule]\nprompts = "0 9 * 1-13 MON"\n',
        "schedule.prompts",
        "'0 9 * 1-13 MON': month 13 is out of range 1-12",
        id="cron-month-range",
    ),
    pytest.param(
        '[schedule]\nprompts = "0 24 * * *"\n',
        "schedule.prompts",
        "'0 24 * * *': hour 24 is out of range 0-23",
        id="cron-hour",
    ),
    pytest.param(
        '[schedule]\nprompts = "0 9 * * 8"\n',
        "schedule.prompts",
        "'0 9 * * 8': day-of-week 8 is out of range 0-7",
        id="cron-day-of-week",
    ),
    pytest.param(
        '[schedule]\nprompts = "0 9 30 2 *"\n',
        "schedule.prompts",
        "'0 9 30 2 *' never fires: day-of-month 30 never falls in month 2",
        id="cron-never",
    ),
    pytest.param(
        '[schedule]\nsummary = "0 9 31 4,6 *"\n',
        "schedule.summary",
        "'0 9 31 4,6 *' never fires: day-of-month 31 never falls in month 4,6",
        id="cron-never-list",
    ),
    pytest.param(
        '[schedule]\nsummary = "every monday"\n',
        "schedule.summary",
        "'every monday' has 2 fields; a cron expression has five: minute hour day-of-month month day-of-week "
        "(e.g. '0 9 * * MON')",
        id="cron-words",
    ),
    pytest.param(
        '[schedule]\nprompts = "0 10 * * TUESDAY"\n',
        "schedule.prompts",
        "'0 10 * * TUESDAY' is not a cron expression (minute hour day-of-month month day-of-week, e.g. '0 10 * * TUE')",
        id="cron-name",
    ),
    pytest.param(
        "[schedule]\nprompts = 10\n",
        "schedule.prompts",
        "must be a cron expression in quotes (e.g. '0 10 * * TUE')",
        id="cron-type",
    ),
    pytest.param(
        '[[channels]]\nplatform = "irc"\nid = "C1"\n',
        "channels[0].platform",
        "unknown platform 'irc' (use 'slack' or 'teams')",
        id="platform",
    ),
    pytest.param(
        '[[summary_channels]]\nplatform = "discord"\nid = "C1"\n',
        "summary_channels[0].platform",
        "unknown platform 'discord' (use 'slack' or 'teams')",
        id="summary-platform",
    ),
    pytest.param(
        slack_channel("#general"),
        "channels[0].id",
        f"'#general' is a channel name, not its id: write the channel id (C… or G…) {SLACK_WHERE}",
        id="slack-hash-name",
    ),
    pytest.param(
        slack_channel("general"),
        "channels[0].id",
        f"'general' is not a Slack channel id: write the id (C… or G… and upper-case letters and digits) {SLACK_WHERE}",
        id="slack-name",
    ),
    pytest.param(
        slack_channel("c0123abcd"),
        "channels[0].id",
        "'c0123abcd': Slack channel ids are upper case: write 'C0123ABCD'",
        id="slack-lower-case",
    ),
    pytest.param(
        slack_channel("https://acme.slack.com/archives/C0123ABCD"),
        "channels[0].id",
        "'https://acme.slack.com/archives/C0123ABCD' is a link, not a channel id: write 'C0123ABCD'",
        id="slack-link",
    ),
    pytest.param(
        slack_channel("https://acme.slack.com/team/U0123"),
        "channels[0].id",
        f"'https://acme.slack.com/team/U0123' is a link, not a channel id: write the channel id (C… or G…) "
        f"{SLACK_WHERE}",
        id="slack-other-link",
    ),
    pytest.param(
        slack_channel("U0123ABCD"),
        "channels[0].id",
        f"'U0123ABCD' is not a Slack channel id: write the id (C… or G… and upper-case letters and digits) "
        f"{SLACK_WHERE}",
        id="slack-user-id",
    ),
    pytest.param(
        teams_channel("General"),
        "channels[0].id",
        f"'General' is not a Teams channel id: write the id 19:…@thread.tacv2 {TEAMS_WHERE}",
        id="teams-name",
    ),
    pytest.param(
        teams_channel("19%3aAbC123dEf%40thread.tacv2", table="summary_channels"),
        "summary_channels[0].id",
        "'19%3aAbC123dEf%40thread.tacv2' is URL-encoded: write '19:AbC123dEf@thread.tacv2'",
        id="teams-url-encoded",
    ),
    pytest.param(
        teams_channel("https://teams.microsoft.com/l/team/19%3aAbC%40thread.tacv2/conversations"),
        "channels[0].id",
        "'https://teams.microsoft.com/l/team/19%3aAbC%40thread.tacv2/conversations' is a link, but not to a "
        f"Teams channel: write the channel id 19:…@thread.tacv2 {TEAMS_WHERE}",
        id="teams-team-link",
    ),
    pytest.param(
        'privacy_url = "http://example.org/privacy"\n',
        "privacy_url",
        "'http://example.org/privacy' is not an https:// address: write the full link, "
        "e.g. 'https://example.org/privacy'",
        id="privacy-http",
    ),
    pytest.param(
        'privacy_url = "example.org/privacy"\n',
        "privacy_url",
        "'example.org/privacy' is not an https:// address: write the full link, e.g. 'https://example.org/privacy'",
        id="privacy-no-scheme",
    ),
    pytest.param(
        'quote_emoji = ":speech_balloon:"\n',
        "quote_emoji",
        "':speech_balloon:': write the emoji name without colons: 'speech_balloon'",
        id="quote-emoji-colons",
    ),
    pytest.param(
        'quote_emoji = "speech balloon"\n',
        "quote_emoji",
        "'speech balloon' is not an emoji name: write it as Slack shows it between colons, e.g. 'speech_balloon'",
        id="quote-emoji-space",
    ),
    pytest.param('prompt_library = "missing.toml"\n', "prompt_library", "not found", id="library"),
    pytest.param('colour = "red"\n', "colour", "unknown key", id="unknown-key"),
    pytest.param('[schedule]\nweekly = "0 9 * * MON"\n', "schedule.weekly", "unknown key", id="unknown-schedule-key"),
    pytest.param(
        '[[channels]]\nplatform = "slack"\nid = "C1"\ncolour = "red"\n',
        "channels[0].colour",
        "unknown key (known keys: id, platform, themes)",
        id="unknown-channel-key",
    ),
    pytest.param(
        'admins = ["bob"]\n', "admins", "'bob' is not a member id like slack:U123 or teams:29:1abc", id="admin"
    ),
    pytest.param('admins = ["irc:bob"]\n', "admins", "'irc:bob' is not a member id", id="admin-platform"),
    pytest.param("timezone = 3\n", "timezone", "must be a non-empty string", id="timezone-type"),
    pytest.param("retention_days = 0\n", "retention_days", "must be a whole number of at least 1", id="retention"),
    pytest.param(
        "report_min_members = 0\n", "report_min_members", "must be a whole number of at least 1", id="report-min-zero"
    ),
    pytest.param(
        'report_min_members = "10"\n',
        "report_min_members",
        "must be a whole number of at least 1",
        id="report-min-text",
    ),
    pytest.param(
        slack_channel("C1") + slack_channel("C1"), "channels[1]", "channel slack:C1 is listed twice", id="duplicate"
    ),
    pytest.param(
        teams_channel("19:AbC123dEf@thread.tacv2") + teams_channel(TEAMS_LINK),
        "channels[1]",
        "channel teams:19:AbC123dEf@thread.tacv2 is listed twice",
        id="duplicate-by-link",
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
    for name, value in CREDENTIALS.items():  # every platform has credentials: only the file's mistake remains
        monkeypatch.setenv(name, value)
    path = write_config(workdir, monkeypatch, text)
    for command in ("serve", "prompts"):
        line = one_line_error(capsys, command)
        assert line.startswith(f"engagebot: {path}: {key}: ")
        assert reason in line
        if not reason.endswith(("not found", "unknown key", "'Astrology'", "is not a member id")):
            assert line == f"engagebot: {path}: {key}: {reason}"
    assert not (workdir / "t.db").exists()  # nothing was opened or created


def test_toml_syntax_error_names_file_and_line(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(workdir, monkeypatch, 'database = "x.db"\ntimezone = Europe/London\n')
    line = one_line_error(capsys, "summary", "--json")
    assert line.startswith(f"engagebot: {path}: not valid TOML")
    assert "line 2" in line


def test_config_named_by_env_but_missing(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENGAGEBOT_CONFIG", str(workdir / "nowhere.toml"))
    line = one_line_error(capsys, "prompts")
    assert line == f"engagebot: {workdir / 'nowhere.toml'}: file not found"


def test_default_config_is_read_from_the_working_directory(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "engagebot.toml").write_text('timezone = "Nowhere/Land"\n', encoding="utf-8")
    line = one_line_error(capsys, "prompts")
    assert line.startswith(f"engagebot: {workdir / 'engagebot.toml'}: timezone: ")


APP_ID = "00000000-0000-4000-8000-0000000000b0"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"

ENV_ERRORS = [
    pytest.param({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET", "is not set", id="slack-secret"),
    pytest.param({"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN", "is not set", id="slack-token"),
    pytest.param(
        {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-2"}, "SLACK_APP_TOKEN", "xapp-", id="slack-app-token"
    ),
    pytest.param(
        {"MicrosoftAppId": APP_ID, "MicrosoftAppPassword": "pw", "MicrosoftAppType": "SingleTenant"},
        "MicrosoftAppTenantId",
        "is required when MicrosoftAppType is SingleTenant",
        id="single-tenant",
    ),
    pytest.param(
        {"MicrosoftAppId": APP_ID, "MicrosoftAppPassword": "pw"},
        "MicrosoftAppTenantId",
        "is required when MicrosoftAppType is SingleTenant (the default: Azure creates new bots as single-tenant): "
        "set your Microsoft Entra tenant id, or MicrosoftAppType=MultiTenant for a bot registered as multi-tenant",
        id="single-tenant-by-default",
    ),
    pytest.param(
        {"MicrosoftAppId": APP_ID}, "MicrosoftAppPassword", "is not set, but MicrosoftAppId is", id="password"
    ),
    pytest.param(
        {"MicrosoftAppId": "engagebot", "MicrosoftAppPassword": "pw"},
        "MicrosoftAppId",
        "'engagebot' is not a GUID: copy the Azure Bot's Microsoft App ID (its Configuration page)",
        id="app-id-not-guid",
    ),
    pytest.param({"MicrosoftAppType": "Galactic"}, "MicrosoftAppType", "unknown app type", id="teams-type"),
    pytest.param(
        {"ENGAGEBOT_TEAMS_EMULATOR": "1", "HOST": "0.0.0.0"},
        "ENGAGEBOT_TEAMS_EMULATOR",
        "is set, but HOST '0.0.0.0' is not a loopback address: emulator mode checks no tokens, so it only listens "
        "on 127.0.0.1 (or set MicrosoftAppId instead)",
        id="emulator-public-host",
    ),
    pytest.param(
        {
            "ENGAGEBOT_TEAMS_EMULATOR": "1",
            "MicrosoftAppId": APP_ID,
            "MicrosoftAppPassword": "pw",
            "MicrosoftAppTenantId": TENANT,
        },
        "ENGAGEBOT_TEAMS_EMULATOR",
        "is set together with MicrosoftAppId: emulator mode runs Teams without credentials; unset one of them",
        id="emulator-and-app-id",
    ),
    pytest.param(
        {"ENGAGEBOT_TEAMS_EMULATOR": "maybe"},
        "ENGAGEBOT_TEAMS_EMULATOR",
        "'maybe' is not a switch: set it to 1 (on) or 0 (off)",
        id="emulator-value",
    ),
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
    line = one_line_error(capsys, "prompts")
    assert line.startswith(f"engagebot: {key}: ")
    assert reason in line
    for secret in ("xoxb-1", "pw"):
        assert secret not in line


def test_dotenv_file_is_read_and_its_errors_reported(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / ".env").write_text("SLACK_BOT_TOKEN=xoxb-from-dotenv\n", encoding="utf-8")
    line = one_line_error(capsys, "prompts")
    assert line.startswith("engagebot: SLACK_SIGNING_SECRET: is not set")


def test_bad_prompt_library_file_through_cli(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    library = workdir / "library.toml"
    library.write_text(
        '[[themes]]\nname = "A"\nprompts = ["one"]\n[[themes]]\nname = "a"\nprompts = ["two"]\n', encoding="utf-8"
    )
    write_config(workdir, monkeypatch, 'prompt_library = "library.toml"\n')
    line = one_line_error(capsys, "prompts", "--json")
    assert line == f"engagebot: {library}: themes[1].name: theme 'a' appears twice"


# -- values that load ------------------------------------------------------------------------------------------------


def test_full_config_loads(tmp_path: Path) -> None:
    (tmp_path / "lib.toml").write_text('[[themes]]\nname = "A"\nprompts = ["one"]\n', encoding="utf-8")
    (tmp_path / "engagebot.toml").write_text(
        f"""
timezone = "America/New_York"
database = "db/x.db"
admins = ["slack:UADMIN"]
prompt_library = "lib.toml"
quote_emoji = "+1::skin-tone-2"
report_min_members = 5
privacy_url = "https://example.org/privacy"
[schedule]
prompts = "30 9 * * WED"
summary = "0 8 29 2 *"
[[channels]]
platform = "slack"
id = "C1"
themes = ["A"]
[[channels]]
platform = "teams"
id = "19:abc@thread.tacv2"
[[channels]]
platform = "teams"
id = "{TEAMS_LINK}"
[[summary_channels]]
platform = "slack"
id = "GADMIN0"
""",
        encoding="utf-8",
    )
    env = {
        "ENGAGEBOT_ADMINS": "teams:29:1abc, slack:U2",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "sec",
        "MicrosoftAppId": APP_ID,
        "MicrosoftAppPassword": "pw",
        "MicrosoftAppTenantId": TENANT,
        "PORT": "8080",
        "LOG_LEVEL": "debug",
    }
    settings = load_settings(env, cwd=tmp_path)
    assert settings.config_found
    assert settings.timezone_name == "America/New_York"
    assert settings.database == str(tmp_path / "db/x.db")
    assert settings.admins == {"slack:UADMIN", "teams:29:1abc", "slack:U2"}
    assert settings.prompt_library == tmp_path / "lib.toml"
    assert (settings.prompt_cron, settings.summary_cron) == ("30 9 * * WED", "0 8 29 2 *")  # 29 Feb does occur
    assert (settings.quote_emoji, settings.privacy_url) == ("+1::skin-tone-2", "https://example.org/privacy")
    assert settings.report_min_members == 5
    assert settings.channels == (
        ChannelConfig(Platform.SLACK, "C1", ("A",)),
        ChannelConfig(Platform.TEAMS, "19:abc@thread.tacv2"),
        ChannelConfig(Platform.TEAMS, "19:AbC123dEf@thread.tacv2"),  # the pasted channel link, decoded
    )
    assert settings.summary_channels == (ChannelConfig(Platform.SLACK, "GADMIN0"),)
    assert settings.slack is not None
    assert settings.slack.api_url == "https://slack.com/api/"
    assert settings.teams == TeamsSettings(APP_ID, "pw", "SingleTenant", TENANT)
    assert (settings.port, settings.log_level) == (8080, "DEBUG")
    assert settings.is_admin("slack:U2")
    assert not settings.is_admin("slack:U3")


def test_defaults_without_any_file(tmp_path: Path) -> None:
    settings = load_settings({}, cwd=tmp_path)
    assert not settings.config_found
    assert settings.timezone_name == "Europe/London"
    assert settings.database == str(tmp_path / "data/engagement.db")
    assert settings.prompt_library == DEFAULT_PROMPT_LIBRARY
    assert (settings.prompt_cron, settings.summary_cron) == ("0 10 * * TUE", "0 9 * * MON")
    assert (settings.min_group_size, settings.report_min_members) == (3, 10)
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
