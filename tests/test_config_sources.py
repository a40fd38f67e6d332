"""Where configuration comes from (SPEC §4): the file and its encoding, the `.env` files and their order, and the
mistakes that only show once the bot runs (a channel of a platform without credentials, no file at all for
`serve`). Each mistake stops the CLI with exit code 2 and one exact line naming the file, the key and the fix."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

import app
from adapters.runtime import Runtime
from bot.config import load_settings
from bot.errors import ConfigError
from tests.cli_support import one_line_error

APP_ID = "00000000-0000-4000-8000-0000000000b0"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SLACK_CHANNEL = '[[channels]]\nplatform = "slack"\nid = "C0123ABCD"\n'
TEAMS_SUMMARY_CHANNEL = '[[summary_channels]]\nplatform = "teams"\nid = "19:abc@thread.tacv2"\n'
LIBRARY = '# Thèmes\n[[themes]]\nname = "Café"\nprompts = ["Où en sommes-nous ?"]\n'


def configure(workdir: Path, monkeypatch: pytest.MonkeyPatch, text: str | bytes) -> Path:
    path = workdir / "engagebot.toml"
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    monkeypatch.setenv("ENGAGEBOT_DB", str(workdir / "t.db"))
    return path


# -- a channel of a platform engagebot cannot reach ------------------------------------------------------------------


@pytest.mark.parametrize("command", ["serve", "summary", "post"])
def test_slack_channel_without_a_slack_token(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = configure(workdir, monkeypatch, SLACK_CHANNEL)
    assert one_line_error(capsys, command) == (
        f"engagebot: {path}: channels[0]: a Slack channel, but SLACK_BOT_TOKEN is not set: set it in the environment "
        "or in a .env file next to this file (or remove the channel)"
    )
    assert not (workdir / "t.db").exists()


def test_teams_summary_channel_without_teams_credentials(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = configure(workdir, monkeypatch, TEAMS_SUMMARY_CHANNEL)
    monkeypatch.setenv("MicrosoftAppPassword", "a password without an app id is not enough")
    assert one_line_error(capsys, "serve") == (
        f"engagebot: {path}: summary_channels[0]: a Teams channel, but MicrosoftAppId is not set: set the Azure "
        "Bot's credentials in the environment or in a .env file next to this file (or ENGAGEBOT_TEAMS_EMULATOR=1 "
        "to test locally)"
    )
    assert not (workdir / "t.db").exists()


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({"ENGAGEBOT_TEAMS_EMULATOR": "1"}, id="emulator"),
        pytest.param(
            {"MicrosoftAppId": APP_ID, "MicrosoftAppPassword": "pw", "MicrosoftAppTenantId": TENANT}, id="app"
        ),
    ],
)
def test_teams_channel_with_credentials_or_emulator_loads(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "engagebot.toml").write_text(TEAMS_SUMMARY_CHANNEL, encoding="utf-8")
    settings = load_settings(env, cwd=tmp_path)
    assert [c.id for c in settings.summary_channels] == ["19:abc@thread.tacv2"]
    assert settings.teams.emulator is ("ENGAGEBOT_TEAMS_EMULATOR" in env)


# -- no file at all --------------------------------------------------------------------------------------------------


def test_serve_without_a_config_file_says_how_to_start(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENGAGEBOT_DB", str(workdir / "t.db"))
    assert one_line_error(capsys, "serve") == (
        f"engagebot: {workdir / 'engagebot.toml'}: not found: start from the example "
        "(cp engagebot.example.toml engagebot.toml), then set your channels and admins; or point ENGAGEBOT_CONFIG "
        "at your file"
    )
    assert not (workdir / "t.db").exists()


# -- encodings -------------------------------------------------------------------------------------------------------


def test_config_saved_with_a_byte_order_mark_is_read(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(workdir, monkeypatch, codecs.BOM_UTF8 + b'timezone = "Europe/Paris"\n')
    assert load_settings(cwd=workdir).timezone_name == "Europe/Paris"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(
            '# Réglages\ntimezone = "Europe/Paris"\n'.encode("cp1252"),
            "is not UTF-8 text (byte 0xe9 on line 1; perhaps saved as Windows-1252 or Latin-1): save it as UTF-8",
            id="windows-1252",
        ),
        pytest.param(
            'timezone = "Europe/Paris"\n'.encode("utf-16"), "is saved as UTF-16: save it as UTF-8", id="utf-16"
        ),
    ],
)
def test_config_in_another_encoding_names_the_problem(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data: bytes, reason: str
) -> None:
    path = configure(workdir, monkeypatch, data)
    assert one_line_error(capsys, "serve") == f"engagebot: {path}: {reason}"


def test_config_that_cannot_be_read(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "conf.toml").mkdir()
    monkeypatch.setenv("ENGAGEBOT_CONFIG", "conf.toml")
    assert one_line_error(capsys, "serve") == f"engagebot: {workdir / 'conf.toml'}: is a directory, not a file"


def test_prompt_library_with_a_byte_order_mark_is_read(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "lib.toml").write_bytes(codecs.BOM_UTF8 + LIBRARY.encode())
    configure(workdir, monkeypatch, 'prompt_library = "lib.toml"\n')
    (workdir / "t.db").touch()  # an existing (empty) database: `prompts` only reads
    assert app.main(["prompts", "--json"]) == 0
    assert '"theme": "Café"' in capsys.readouterr().out


def test_prompt_library_not_in_utf8(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "lib.toml").write_bytes(LIBRARY.encode("latin-1"))
    configure(workdir, monkeypatch, 'prompt_library = "lib.toml"\n')
    assert one_line_error(capsys, "serve") == (
        f"engagebot: {workdir / 'lib.toml'}: prompt_library: is not UTF-8 text (byte 0xe8 on line 1; perhaps saved "
        "as Windows-1252 or Latin-1): save it as UTF-8"
    )
    assert not (workdir / "t.db").exists()


# -- .env files ------------------------------------------------------------------------------------------------------


def test_dotenv_next_to_the_config_file_is_read(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reported mistake: `.env` beside the TOML, the bot started from another directory."""
    conf = workdir / "etc"
    conf.mkdir()
    (conf / "engagebot.toml").write_text(SLACK_CHANNEL, encoding="utf-8")
    (conf / ".env").write_bytes(codecs.BOM_UTF8 + b"SLACK_BOT_TOKEN=xoxb-beside\nSLACK_SIGNING_SECRET=s\n")
    monkeypatch.setenv("ENGAGEBOT_CONFIG", str(conf / "engagebot.toml"))
    settings = load_settings(cwd=workdir)
    assert settings.slack is not None
    assert settings.slack.bot_token == "xoxb-beside"


def test_order_environment_then_dotenv_beside_the_config_then_working_directory(tmp_path: Path) -> None:
    conf = tmp_path / "etc"
    conf.mkdir()
    (conf / "engagebot.toml").write_text("", encoding="utf-8")
    (conf / ".env").write_text("LOG_LEVEL=WARNING\nPORT=4001\nENGAGEBOT_CONFIG=elsewhere.toml\n", encoding="utf-8")
    (tmp_path / ".env").write_text(
        "ENGAGEBOT_CONFIG=etc/engagebot.toml\nLOG_LEVEL=DEBUG\nPORT=4002\nHOST=127.0.0.2\n", encoding="utf-8"
    )
    settings = load_settings({"LOG_LEVEL": "ERROR"}, cwd=tmp_path)
    assert settings.config_path == str(conf / "engagebot.toml")  # named by the working directory's .env
    assert (settings.log_level, settings.port, settings.host) == ("ERROR", 4001, "127.0.0.2")


def test_dotenv_not_in_utf8_is_a_clear_error(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / ".env").write_bytes("ENGAGEBOT_ADMINS=slack:U1 # Zoë\n".encode("cp1252"))
    assert one_line_error(capsys, "prompts") == (
        f"engagebot: {workdir / '.env'}: is not UTF-8 text (byte 0xeb on line 1; perhaps saved as Windows-1252 or "
        "Latin-1): save it as UTF-8"
    )


# -- the Teams app type ----------------------------------------------------------------------------------------------


def test_app_type_defaults_to_single_tenant_and_multi_tenant_stays_possible(tmp_path: Path) -> None:
    app = {"MicrosoftAppId": APP_ID, "MicrosoftAppPassword": "pw"}
    single = load_settings({**app, "MicrosoftAppTenantId": TENANT}, cwd=tmp_path).teams
    assert (single.app_type, single.tenant_id, single.auth_enabled) == ("SingleTenant", TENANT, True)
    multi = load_settings({**app, "MicrosoftAppType": "multitenant"}, cwd=tmp_path).teams
    assert (multi.app_type, multi.tenant_id) == ("MultiTenant", "")


def test_emulator_mode_does_not_pass_an_app_type_on(tmp_path: Path) -> None:
    """botbuilder refuses SingleTenant without an app id: without one, the app type must not reach it."""
    env = {"ENGAGEBOT_TEAMS_EMULATOR": "1", "MicrosoftAppType": "SingleTenant", "ENGAGEBOT_DB": str(tmp_path / "e.db")}
    settings = load_settings(env, cwd=tmp_path)
    assert (settings.teams.app_type, settings.teams.emulator, settings.teams.auth_enabled) == (
        "MultiTenant",
        True,
        False,
    )
    runtime = Runtime.build(settings)  # the real botbuilder authentication is created here
    try:
        assert runtime.teams is not None
    finally:
        runtime.close()


def test_the_shipped_example_loads_once_credentials_are_set(workdir: Path) -> None:
    example = Path(__file__).parent.parent / "engagebot.example.toml"
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "ENGAGEBOT_TEAMS_EMULATOR": "1"}
    settings = load_settings({"ENGAGEBOT_CONFIG": str(example), **env}, cwd=workdir)
    assert [f"{c.platform.value}:{c.id}" for c in settings.channels] == [
        "slack:C0123456789",
        "teams:19:abcdef0123456789@thread.tacv2",
    ]
    with pytest.raises(ConfigError, match=r"channels\[0\]: a Slack channel, but SLACK_BOT_TOKEN is not set"):
        load_settings({"ENGAGEBOT_CONFIG": str(example)}, cwd=workdir)
