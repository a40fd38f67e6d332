"""Offline platform fakes for the tests. Everything binds 127.0.0.1 on a free port and needs no network:

- ``slack_api``: ``FakeSlackAPI``, an aiohttp app for ``AsyncWebClient(base_url=...)``, response URLs and
  ``files_upload_v2``.
- ``connector``: ``FakeTeamsConnector``, the Bot Framework connector (``serviceUrl``) in its own thread, because
  botbuilder calls it through ``requests``, partly synchronously (PLATFORM_NOTES §2.3, §2.8).
- ``openid``: ``OpenIdMetadataServer``, ``mint_token``, ``use_offline_openid`` and ``OfflineCredentialFactory``:
  inbound JWT validation and outbound tokens with a Microsoft app id set (PLATFORM_NOTES §2.7).
- ``slack_payloads``: ``sign_slack`` and ``slack_*`` builders, signed, realistically shaped Slack requests
  (PLATFORM_NOTES §1.3-§1.6).
- ``teams_payloads``: ``teams_*`` builders, Teams activities as JSON dicts (PLATFORM_NOTES §2.5).
- ``ids``: the fake workspace's, tenant's, team's and app's ids.

Every name is re-exported here: ``from tests.fakes import FakeSlackAPI, slack_thread_reply``.
"""

from tests.fakes.connector import ConnectorCall, FakeTeamsConnector
from tests.fakes.ids import (
    BOT_FRAMEWORK_ISSUER,
    DEFAULT_KID,
    SLACK_APP_ID,
    SLACK_BOT_ID,
    SLACK_BOT_USER_ID,
    SLACK_TEAM_ID,
    TEAMS_BOT_ID,
    TEAMS_BOT_NAME,
    TEAMS_CHANNEL_ID,
    TEAMS_TEAM_ID,
    TEAMS_TENANT_ID,
    TEST_APP_ID,
)
from tests.fakes.openid import (
    OfflineCredentialFactory,
    OpenIdMetadataServer,
    StaticTokenCredentials,
    default_signing_key,
    mint_token,
    use_offline_openid,
)
from tests.fakes.slack_api import FakeSlackAPI, SlackCall, UploadedFile
from tests.fakes.slack_payloads import (
    next_slack_ts,
    sign_slack,
    slack_command_body,
    slack_event_body,
    slack_link_unfurled,
    slack_message,
    slack_message_changed,
    slack_message_deleted,
    slack_reaction_added,
    slack_reaction_removed,
    slack_thread_broadcast,
    slack_thread_reply,
    slack_url_verification_body,
)
from tests.fakes.teams_payloads import (
    next_teams_message_id,
    teams_channel_mention,
    teams_channel_reply,
    teams_edit,
    teams_file_consent_invoke,
    teams_install_conversation_update,
    teams_message_reaction,
    teams_personal_message,
    teams_soft_delete,
    teams_undelete,
)

__all__ = [
    "BOT_FRAMEWORK_ISSUER",
    "DEFAULT_KID",
    "SLACK_APP_ID",
    "SLACK_BOT_ID",
    "SLACK_BOT_USER_ID",
    "SLACK_TEAM_ID",
    "TEAMS_BOT_ID",
    "TEAMS_BOT_NAME",
    "TEAMS_CHANNEL_ID",
    "TEAMS_TEAM_ID",
    "TEAMS_TENANT_ID",
    "TEST_APP_ID",
    "ConnectorCall",
    "FakeSlackAPI",
    "FakeTeamsConnector",
    "OfflineCredentialFactory",
    "OpenIdMetadataServer",
    "SlackCall",
    "StaticTokenCredentials",
    "UploadedFile",
    "default_signing_key",
    "mint_token",
    "next_slack_ts",
    "next_teams_message_id",
    "sign_slack",
    "slack_command_body",
    "slack_event_body",
    "slack_link_unfurled",
    "slack_message",
    "slack_message_changed",
    "slack_message_deleted",
    "slack_reaction_added",
    "slack_reaction_removed",
    "slack_thread_broadcast",
    "slack_thread_reply",
    "slack_url_verification_body",
    "teams_channel_mention",
    "teams_channel_reply",
    "teams_edit",
    "teams_file_consent_invoke",
    "teams_install_conversation_update",
    "teams_message_reaction",
    "teams_personal_message",
    "teams_soft_delete",
    "teams_undelete",
    "use_offline_openid",
]
