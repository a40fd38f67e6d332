"""The ids of the fake Slack workspace, Teams tenant, team, channel and app, and the time formats of both platforms."""

from __future__ import annotations

from datetime import UTC, datetime

SLACK_TEAM_ID = "T111"
SLACK_BOT_USER_ID = "UBOT"
SLACK_BOT_ID = "BBOT"
SLACK_APP_ID = "A111"

TEAMS_TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
TEAMS_TEAM_ID = "19:team-engage0000000000000000000001@thread.tacv2"
TEAMS_CHANNEL_ID = "19:channel-engage000000000000000001@thread.tacv2"
TEST_APP_ID = "00000000-0000-4000-8000-0000000000b0"
TEAMS_BOT_ID = f"28:{TEST_APP_ID}"
TEAMS_BOT_NAME = "EngageBot"

BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
DEFAULT_KID = "engagebot-test-key"

MICROS = 1_000_000


def format_ts(micros: int) -> str:
    return f"{micros // MICROS}.{micros % MICROS:06d}"


def iso_z(moment: datetime | None) -> str:
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
