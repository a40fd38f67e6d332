"""The fakes in tests/fakes/, checked against the real slack_sdk, slack_bolt and botbuilder libraries."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from botbuilder.core import MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler, TeamsInfo
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ConversationReference, ErrorResponseException
from cryptography.hazmat.primitives.asymmetric import rsa
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.fakes import (
    TEAMS_CHANNEL_ID,
    TEAMS_TEAM_ID,
    TEST_APP_ID,
    FakeSlackAPI,
    FakeTeamsConnector,
    OfflineCredentialFactory,
    OpenIdMetadataServer,
    mint_token,
    sign_slack,
    slack_command_body,
    slack_event_body,
    slack_message,
    slack_message_changed,
    slack_message_deleted,
    slack_reaction_added,
    slack_thread_broadcast,
    slack_thread_reply,
    teams_channel_mention,
    teams_channel_reply,
    teams_edit,
    teams_install_conversation_update,
    teams_message_reaction,
    teams_personal_message,
    teams_soft_delete,
    use_offline_openid,
)

SECRET = "test-signing-secret"

# --------------------------------------------------------------------------------------------------------------------
# Slack


@pytest.fixture
async def slack() -> AsyncIterator[tuple[FakeSlackAPI, TestServer]]:
    fake = FakeSlackAPI()
    async with fake.serve() as server:
        yield fake, server


def web_client(server: TestServer, *, retry: bool = False) -> AsyncWebClient:
    client = AsyncWebClient(token="xoxb-test", base_url=str(server.make_url("/api/")))
    if retry:
        client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    return client


@pytest.mark.asyncio
async def test_slack_fake_answers_the_web_api(slack: tuple[FakeSlackAPI, TestServer]) -> None:
    fake, server = slack
    fake.display_names["U222"] = "Bea"
    fake.replies[("C111", "1732350000.000100")] = [{"type": "message", "ts": "1732350000.000100", "reply_count": 1}]
    fake.reactions[("C111", "1732350000.000100")] = [{"name": "tada", "users": ["U222"], "count": 1}]
    client = web_client(server)

    auth = await client.auth_test()
    first = await client.chat_postMessage(channel="C111", text="What made you smile?")
    fake.ts_queue.append("1732359999.000900")
    second = await client.chat_postMessage(channel="C111", text="again", thread_ts=first["ts"])
    third = await client.chat_postMessage(channel="C111", text="and again")
    ephemeral = await client.chat_postEphemeral(channel="C111", user="U222", text="only you")
    user = await client.users_info(user="U222")
    unknown = await client.users_info(user="U333")
    replies = await client.conversations_replies(channel="C111", ts="1732350000.000100")
    reactions = await client.reactions_get(channel="C111", timestamp="1732350000.000100")

    assert (auth["user_id"], auth["bot_id"], auth["team_id"]) == ("UBOT", "BBOT", "T111")
    assert (first["ts"], second["ts"], third["ts"]) == ("1732350000.000100", "1732359999.000900", "1732350001.000100")
    assert second["message"]["thread_ts"] == first["ts"]
    assert ephemeral["message_ts"] == "1732350002.000100"
    assert user["user"]["profile"]["display_name"] == "Bea"
    assert unknown["user"]["profile"]["display_name"] == "Member U333"
    assert replies["messages"][0]["reply_count"] == 1
    assert reactions["message"]["reactions"][0]["name"] == "tada"
    # chat.* goes as JSON, auth.test as a query string, users.info as GET: all end up in args.
    assert fake.calls_to("chat.postMessage")[1]["args"] == {
        "channel": "C111",
        "text": "again",
        "thread_ts": first["ts"],
    }
    assert fake.calls_to("users.info")[0]["args"] == {"user": "U222"}
    assert {call["auth"] for call in fake.calls} == {"Bearer xoxb-test"}


@pytest.mark.asyncio
async def test_slack_429_is_retried_with_the_rate_limit_handler(slack: tuple[FakeSlackAPI, TestServer]) -> None:
    fake, server = slack
    fake.fail_next("chat.postMessage", status=429, retry_after=0)
    response = await web_client(server, retry=True).chat_postMessage(channel="C111", text="hi")
    assert response["ok"]
    assert len(fake.calls_to("chat.postMessage")) == 2

    fake.fail_next("chat.postMessage", status=429, retry_after=0)
    with pytest.raises(SlackApiError) as raised:  # the default handlers do not retry 429 (PLATFORM_NOTES §1.9)
        await web_client(server).chat_postMessage(channel="C111", text="hi")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "0"
    assert raised.value.response["error"] == "ratelimited"


@pytest.mark.asyncio
@pytest.mark.parametrize(("status", "error"), [(200, "channel_not_found"), (500, None), (503, None)])
async def test_slack_queued_errors_raise_slack_api_error(
    slack: tuple[FakeSlackAPI, TestServer], status: int, error: str | None
) -> None:
    fake, server = slack
    fake.fail_next("chat.postMessage", status=status, error=error)
    with pytest.raises(SlackApiError) as raised:
        await web_client(server).chat_postMessage(channel="C404", text="hi")
    assert raised.value.response.status_code == status
    if error:
        assert raised.value.response["error"] == error
    assert (await web_client(server).chat_postMessage(channel="C111", text="hi"))["ok"]  # only the next call fails


@pytest.mark.asyncio
async def test_slack_files_upload_v2(slack: tuple[FakeSlackAPI, TestServer]) -> None:
    fake, server = slack
    content = b"week,messages\n2026-W48,12\n"
    response = await web_client(server).files_upload_v2(
        channel="C111", filename="engagement.csv", content=content, title="Export", initial_comment="here you go"
    )

    assert [call["method"] for call in fake.calls] == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    assert fake.calls[0]["args"] == {"filename": "engagement.csv", "length": str(len(content))}
    (upload,) = fake.uploads.values()
    assert (upload.filename, upload.data, upload.title, upload.channel_id) == (
        "engagement.csv",
        content,
        "Export",
        "C111",
    )
    assert upload.completed
    assert upload.initial_comment == "here you go"
    assert response["file"]["id"] == upload.file_id


@pytest.mark.asyncio
async def test_slack_response_url_sink(slack: tuple[FakeSlackAPI, TestServer]) -> None:
    fake, server = slack
    webhook = AsyncWebhookClient(str(server.make_url("/commands/T111/1234/abcd")))
    response = await webhook.send(text="summary", response_type="ephemeral")
    assert response.status_code == 200
    assert fake.responses == [{"text": "summary", "response_type": "ephemeral"}]


def test_sign_slack_matches_slack_sdk() -> None:
    body = slack_event_body(slack_message("hello"), "Ev001")
    headers = sign_slack(body, SECRET)
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])
    assert not SignatureVerifier("other").is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    stale = sign_slack(body, SECRET, ts=int(time.time()) - 301)
    assert not verifier.is_valid(body, stale["X-Slack-Request-Timestamp"], stale["X-Slack-Signature"])
    # Slack's documented vector ("Verifying requests from Slack").
    vector_body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    assert sign_slack(vector_body, "8f742231b10e8888abcd99yyyzzz85a5", ts=1531420618)["X-Slack-Signature"] == (
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )


def bolt_request(body: str, content_type: str) -> AsyncBoltRequest:
    headers: dict[str, str | Sequence[str]] = {**sign_slack(body, SECRET), "Content-Type": content_type}
    return AsyncBoltRequest(body=body, headers=headers)


@pytest.mark.asyncio
async def test_slack_builders_reach_bolt_listeners(slack: tuple[FakeSlackAPI, TestServer]) -> None:
    fake, server = slack
    app = AsyncApp(client=web_client(server), signing_secret=SECRET, process_before_response=True)
    seen: list[tuple[str, str | None]] = []

    @app.event("message")
    async def on_message(event: dict[str, Any]) -> None:
        seen.append(("message", event.get("subtype")))

    @app.event("reaction_added")
    async def on_reaction(event: dict[str, Any]) -> None:
        seen.append(("reaction_added", event["item"]["ts"]))

    @app.command("/engage")
    async def on_command(ack: Callable[..., Awaitable[None]], respond: Callable[..., Awaitable[Any]]) -> None:
        await ack()
        await respond(text="summary", response_type="ephemeral")

    root = "1732350000.000100"
    events = [
        slack_message("top"),
        slack_thread_reply("reply", thread_ts=root),
        slack_thread_broadcast("broadcast", thread_ts=root),
        slack_message_changed(ts=root, new_text="edited"),
        slack_message_deleted(deleted_ts=root),
        slack_reaction_added("tada", ts=root),
    ]
    for n, event in enumerate(events):
        body = slack_event_body(event, f"Ev{n:03d}")
        response = await app.async_dispatch(bolt_request(body, "application/json"))
        assert response.status == 200
    command = slack_command_body("summary", "U111", "C111", str(server.make_url("/commands/T111/1/abc")))
    response = await app.async_dispatch(bolt_request(command, "application/x-www-form-urlencoded"))
    assert response.status == 200

    assert seen == [
        ("message", None),
        ("message", None),
        ("message", "thread_broadcast"),
        ("message", "message_changed"),
        ("message", "message_deleted"),
        ("reaction_added", root),
    ]
    assert fake.responses == [{"text": "summary", "response_type": "ephemeral"}]
    assert len(fake.calls_to("auth.test")) == 1


# --------------------------------------------------------------------------------------------------------------------
# Teams

# botbuilder ships no type information; at type-check time the base is `object` so no `Any` is subclassed.
if TYPE_CHECKING:
    _HandlerBase = object
else:
    _HandlerBase = TeamsActivityHandler


class RecordingBot(_HandlerBase):
    """Replies "pong" to messages and records which handler each activity reached."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []
        self.references: list[dict[str, Any]] = []
        self.channels: list[Any] = []

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        self.seen.append(("message", turn_context.activity.conversation.id))
        self.references.append(TurnContext.get_conversation_reference(turn_context.activity).serialize())
        if "channels" in (turn_context.activity.text or ""):
            self.channels = await TeamsInfo.get_team_channels(turn_context)  # synchronous connector client inside
        await turn_context.send_activity("pong")

    async def on_teams_message_edit(self, turn_context: TurnContext) -> None:
        self.seen.append(("edit", turn_context.activity.id))

    async def on_teams_message_soft_delete(self, turn_context: TurnContext) -> None:
        self.seen.append(("soft_delete", turn_context.activity.id))

    async def on_reactions_added(self, message_reactions: list[Any], turn_context: TurnContext) -> None:
        self.seen.append(("reactions_added", turn_context.activity.reply_to_id))

    async def on_reactions_removed(self, message_reactions: list[Any], turn_context: TurnContext) -> None:
        self.seen.append(("reactions_removed", turn_context.activity.reply_to_id))

    async def on_teams_members_added(
        self, teams_members_added: list[Any], team_info: Any, turn_context: TurnContext
    ) -> None:
        self.seen.append(("members_added", team_info.id))
        self.references.append(TurnContext.get_conversation_reference(turn_context.activity).serialize())


def teams_config(app_id: str = "") -> SimpleNamespace:
    return SimpleNamespace(APP_ID=app_id, APP_PASSWORD="", APP_TYPE="MultiTenant", APP_TENANTID="")


@pytest.fixture
def connector() -> Iterator[FakeTeamsConnector]:
    with FakeTeamsConnector() as fake:
        yield fake


def bot_app(adapter: CloudAdapter, bot: RecordingBot, errors: list[BaseException] | None = None) -> web.Application:
    async def messages(request: web.Request) -> web.Response:
        try:
            response: web.Response = await adapter.process(request, bot)
        except Exception as exc:
            if errors is not None:
                errors.append(exc)
            raise
        return response

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    return app


async def post_activity(client: TestClient[Any, Any], activity: dict[str, Any], auth: str | None = None) -> int:
    headers = {"Content-Type": "application/json"} | ({"Authorization": auth} if auth else {})
    async with client.post("/api/messages", data=json.dumps(activity), headers=headers) as response:
        return response.status


@pytest.mark.asyncio
async def test_teams_activities_reach_the_bot_and_replies_reach_the_connector(connector: FakeTeamsConnector) -> None:
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(teams_config()))
    bot = RecordingBot()
    url = connector.url
    mention = teams_channel_mention("summary", service_url=url, activity_id="1732350000100")
    activities = [
        mention,
        teams_channel_reply("nice one", root_id="1732350000100", activity_id="1732350000200", service_url=url),
        teams_edit("nice one!", message_id="1732350000200", root_id="1732350000100", service_url=url),
        teams_soft_delete(message_id="1732350000200", root_id="1732350000100", service_url=url),
        teams_message_reaction("like", reply_to_id="1732350000100", service_url=url),
        teams_message_reaction("like", reply_to_id="1732350000100", removed=True, service_url=url),
        teams_install_conversation_update(service_url=url),
        teams_personal_message("hello", service_url=url),
    ]
    async with TestClient(TestServer(bot_app(adapter, bot))) as client:
        statuses = [await post_activity(client, activity) for activity in activities]

    assert statuses == [201] * len(activities)  # CloudAdapter answers 201, not 200
    thread = f"{TEAMS_CHANNEL_ID};messageid=1732350000100"
    assert bot.seen == [
        ("message", thread),
        ("message", thread),
        ("edit", "1732350000200"),
        ("soft_delete", "1732350000200"),
        ("reactions_added", "1732350000100"),
        ("reactions_removed", "1732350000100"),
        ("members_added", TEAMS_TEAM_ID),
        ("message", "a:1fake-personal-chat-alice"),
    ]
    replies = connector.calls_to("reply_to_activity")
    assert [(c["conversation_id"], c["activity_id"]) for c in replies[:2]] == [
        (thread, "1732350000100"),
        (thread, "1732350000200"),
    ]
    assert replies[0]["body"]["text"] == "pong"
    assert replies[0]["body"]["replyToId"] == "1732350000100"
    assert replies[0]["auth"] is None  # emulator mode: no outbound token
    assert replies[-1]["conversation_id"] == "a:1fake-personal-chat-alice"
    assert bot.references[-2]["conversation"]["id"] == TEAMS_TEAM_ID  # install: General channel == team id
    assert bot.references[-2]["serviceUrl"] == url


@pytest.mark.asyncio
async def test_teams_sync_connector_calls_do_not_deadlock(connector: FakeTeamsConnector) -> None:
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(teams_config()))
    bot = RecordingBot()
    async with TestClient(TestServer(bot_app(adapter, bot))) as client:
        status = await post_activity(client, teams_channel_mention("channels", service_url=connector.url))
    assert status == 201
    assert [channel.id for channel in bot.channels] == [TEAMS_TEAM_ID]
    assert connector.calls_to("get_team_channels")[0]["conversation_id"] == TEAMS_TEAM_ID


def reference_for(service_url: str, conversation_id: str = TEAMS_TEAM_ID) -> ConversationReference:
    activity = Activity().deserialize(teams_install_conversation_update(service_url=service_url))
    reference = TurnContext.get_conversation_reference(activity)
    reference.conversation.id = conversation_id
    return ConversationReference().deserialize(json.loads(json.dumps(reference.serialize())))  # as stored in SQLite


@pytest.mark.asyncio
async def test_teams_proactive_channel_post_in_emulator_mode(connector: FakeTeamsConnector) -> None:
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(teams_config()))
    results: list[tuple[ConversationReference, str]] = []

    async def post_prompt(turn_context: TurnContext) -> None:
        results.append(
            await TeamsInfo.send_message_to_teams_channel(
                turn_context, MessageFactory.text("What made you smile?"), TEAMS_CHANNEL_ID, bot_app_id="engagebot"
            )
        )

    await adapter.continue_conversation(reference_for(connector.url), post_prompt, "")

    (created,) = connector.calls
    assert created["op"] == "create_conversation"
    assert created["body"]["isGroup"] is True
    assert created["body"]["channelData"]["channel"]["id"] == TEAMS_CHANNEL_ID
    assert created["body"]["activity"]["text"] == "What made you smile?"
    assert created["auth"] is None
    ((new_reference, new_activity_id),) = results
    assert new_activity_id == "1732350000001"
    assert new_reference.conversation.id == f"{TEAMS_CHANNEL_ID};messageid=1732350000001"
    assert new_reference.service_url == connector.url

    # Trap: an empty bot_app_id takes the legacy path, which CloudAdapter rejects.
    async def legacy(turn_context: TurnContext) -> None:
        await TeamsInfo.send_message_to_teams_channel(turn_context, MessageFactory.text("x"), TEAMS_CHANNEL_ID)

    with pytest.raises(TypeError, match="service_url is required"):
        await adapter.continue_conversation(reference_for(connector.url), legacy, "")

    # Trap: send_activity() in a continuation replies to a synthetic uuid, unless the activity id is cleared.
    async def send_twice(turn_context: TurnContext) -> None:
        await turn_context.send_activity("as reply")
        turn_context.activity.id = None
        await turn_context.send_activity("as new message")

    connector.clear()
    await adapter.continue_conversation(reference_for(connector.url, new_reference.conversation.id), send_twice, "")
    reply, sent = connector.calls
    assert reply["op"] == "reply_to_activity"
    uuid.UUID(str(reply["activity_id"]))
    assert (sent["op"], sent["conversation_id"]) == ("send_to_conversation", new_reference.conversation.id)


@pytest.mark.asyncio
async def test_teams_connector_429_raises_error_response_exception(connector: FakeTeamsConnector) -> None:
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(teams_config()))
    connector.fail_next("send_to_conversation", status=429, retry_after="0")

    async def send(turn_context: TurnContext) -> None:
        turn_context.activity.id = None
        await turn_context.send_activity("hello")

    with pytest.raises(ErrorResponseException) as raised:
        await adapter.continue_conversation(reference_for(connector.url), send, "")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "0"
    assert raised.value.error.error.code == "Throttled"
    assert len(connector.calls) == 1  # botbuilder does not retry


# --------------------------------------------------------------------------------------------------------------------
# Bot Framework JWT (MicrosoftAppId set)


@pytest.fixture
def openid() -> Iterator[OpenIdMetadataServer]:
    with OpenIdMetadataServer() as server, use_offline_openid(server):
        yield server


def authenticated_adapter() -> CloudAdapter:
    cfg = teams_config(TEST_APP_ID)
    return CloudAdapter(ConfigurationBotFrameworkAuthentication(cfg, credentials_factory=OfflineCredentialFactory()))


@pytest.mark.asyncio
async def test_jwt_valid_and_rejected_tokens(connector: FakeTeamsConnector, openid: OpenIdMetadataServer) -> None:
    bot = RecordingBot()
    url = connector.url
    cases = {
        "valid": mint_token(TEST_APP_ID, url),
        "wrong audience": mint_token("someone-else", url),
        "wrong issuer": mint_token(TEST_APP_ID, url, issuer="https://evil.example.com"),
        "wrong serviceUrl": mint_token(TEST_APP_ID, "https://smba.trafficmanager.net/amer/"),
        # An emulator issuer takes EmulatorValidation, whose metadata URL use_offline_openid pre-seeds: still offline.
        "emulator issuer": mint_token(
            TEST_APP_ID, url, issuer="https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/"
        ),
    }
    async with TestClient(TestServer(bot_app(authenticated_adapter(), bot))) as client:
        statuses = {
            name: await post_activity(client, teams_channel_mention("hi", service_url=url), f"Bearer {token}")
            for name, token in cases.items()
        }
        statuses["no header"] = await post_activity(client, teams_channel_mention("hi", service_url=url))

    assert statuses == {
        "valid": 201,
        "wrong audience": 401,
        "wrong issuer": 401,
        "wrong serviceUrl": 401,
        "emulator issuer": 401,
        "no header": 401,
    }
    (reply,) = connector.calls_to("reply_to_activity")
    assert reply["auth"] == "Bearer fake-outbound-token"
    # One fetch for the channel URL and one for the pre-seeded emulator URL; cached afterwards.
    assert openid.requested == [OpenIdMetadataServer.METADATA_PATH, OpenIdMetadataServer.KEYS_PATH] * 2


@pytest.mark.asyncio
async def test_jwt_failures_that_are_not_permission_errors(
    connector: FakeTeamsConnector, openid: OpenIdMetadataServer
) -> None:
    """These escape CloudAdapter.process as 500s; the app must map them to 401 itself (SPEC §11)."""
    url = connector.url
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases: dict[str, tuple[str, type[BaseException]]] = {
        "expired": (mint_token(TEST_APP_ID, url, expires_in=-301), jwt.ExpiredSignatureError),
        "garbled": ("not-a-jwt", jwt.DecodeError),
        "wrong key": (mint_token(TEST_APP_ID, url, key=other_key), jwt.InvalidSignatureError),
        "unknown kid": (mint_token(TEST_APP_ID, url, kid="rotated-away"), IndexError),
    }
    errors: list[BaseException] = []
    async with TestClient(TestServer(bot_app(authenticated_adapter(), RecordingBot(), errors))) as client:
        for name, (token, expected) in cases.items():
            errors.clear()
            status = await post_activity(client, teams_channel_mention("hi", service_url=url), f"Bearer {token}")
            assert (name, status, type(errors[0])) == (name, 500, expected)
        # Still within the 5-minute clock skew: accepted.
        late = mint_token(TEST_APP_ID, url, expires_in=-60)
        assert await post_activity(client, teams_channel_mention("hi", service_url=url), f"Bearer {late}") == 201


@pytest.mark.asyncio
async def test_jwt_unendorsed_channel_and_proactive_token(connector: FakeTeamsConnector) -> None:
    with OpenIdMetadataServer(endorsements=["webchat"]) as server, use_offline_openid(server):
        errors: list[BaseException] = []
        async with TestClient(TestServer(bot_app(authenticated_adapter(), RecordingBot(), errors))) as client:
            token = mint_token(TEST_APP_ID, connector.url)
            status = await post_activity(
                client, teams_channel_mention("hi", service_url=connector.url), f"Bearer {token}"
            )
        assert status == 500
        assert type(errors[0]) is Exception
        assert str(errors[0]) == "Could not validate endorsement key"

    async def post_prompt(turn_context: TurnContext) -> None:
        await TeamsInfo.send_message_to_teams_channel(
            turn_context, MessageFactory.text("prompt"), TEAMS_CHANNEL_ID, bot_app_id=TEST_APP_ID
        )

    await authenticated_adapter().continue_conversation(reference_for(connector.url), post_prompt, TEST_APP_ID)
    (created,) = connector.calls_to("create_conversation")
    assert created["auth"] == "Bearer fake-outbound-token"
