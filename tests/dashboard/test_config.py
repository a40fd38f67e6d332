"""`public_url` and `dashboard`: the https base of the sign-in links (plain http on a loopback host only), and the
dashboard on by default exactly when public_url is set."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_settings
from bot.errors import ConfigError
from tests.cli_support import one_line_error


def settings_of(tmp_path: Path, toml: str):
    (tmp_path / "engagebot.toml").write_text(toml)
    return load_settings({}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("toml", "public_url", "dashboard"),
    [
        ("", "", False),
        ('public_url = "https://engagebot.example.org"\n', "https://engagebot.example.org", True),
        ('public_url = "https://engagebot.example.org/"\n', "https://engagebot.example.org", True),
        ('public_url = "https://engagebot.example.org:8443"\n', "https://engagebot.example.org:8443", True),
        ('public_url = "https://engagebot.example.org"\ndashboard = false\n', "https://engagebot.example.org", False),
        ('public_url = "http://127.0.0.1:3978"\n', "http://127.0.0.1:3978", True),
        ('public_url = "http://localhost:3978"\n', "http://localhost:3978", True),
        ('public_url = "http://[::1]:3978"\n', "http://[::1]:3978", True),
        ("dashboard = false\n", "", False),
    ],
)
def test_public_url_and_dashboard(tmp_path: Path, toml: str, public_url: str, dashboard: bool):
    settings = settings_of(tmp_path, toml)
    assert (settings.public_url, settings.dashboard) == (public_url, dashboard)


@pytest.mark.parametrize(
    ("toml", "key", "reason"),
    [
        ('public_url = "http://engagebot.example.org"\n', "public_url", "the sign-in links must be https"),
        ('public_url = "http://10.0.0.5:3978"\n', "public_url", "only for a loopback host"),
        ('public_url = "engagebot.example.org"\n', "public_url", "is not an https:// address"),
        ('public_url = "ftp://engagebot.example.org"\n', "public_url", "is not an https:// address"),
        ('public_url = "https://engagebot.example.org/bot"\n', "public_url", "the dashboard lives at /dashboard/"),
        ('public_url = "https://engagebot.example.org/?x=1"\n', "public_url", "more than a base address"),
        ('public_url = "https://me:pw@engagebot.example.org"\n', "public_url", "more than a base address"),
        ('public_url = "https://engagebot.example.org:99999"\n', "public_url", "is not a web address"),
        ('public_url = ""\n', "public_url", "must be a non-empty string"),
        ("dashboard = true\n", "dashboard", "public_url is not set"),
        ('public_url = "https://engagebot.example.org"\ndashboard = "yes"\n', "dashboard", "true or false"),
    ],
)
def test_a_wrong_public_url_or_dashboard_is_refused_naming_the_key(tmp_path: Path, toml: str, key: str, reason: str):
    with pytest.raises(ConfigError) as caught:
        settings_of(tmp_path, toml)
    assert caught.value.key == key
    assert reason in caught.value.reason


def test_the_command_line_reports_it_on_one_line(workdir: Path, capsys):
    (workdir / "engagebot.toml").write_text("dashboard = true\n")
    line = one_line_error(capsys, "dashboard-sessions")
    assert line.startswith(f"engagebot: {workdir / 'engagebot.toml'}: dashboard: is true, but public_url is not set")
