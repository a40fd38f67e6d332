"""Bot Framework JWT offline: OpenID metadata and keys, token minting, and outbound credentials without MSAL."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import jwt
from botframework.connector.auth import (
    AuthenticationConstants,
    ChannelValidation,
    GovernmentChannelValidation,
    GovernmentConstants,
    JwtTokenExtractor,
    MicrosoftAppCredentials,
    ServiceClientCredentialsFactory,
)
from botframework.connector.auth.jwt_token_extractor import _OpenIdMetadata
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.fakes.ids import BOT_FRAMEWORK_ISSUER, DEFAULT_KID, TEST_APP_ID
from tests.fakes.servers import ThreadedServer

__all__ = [
    "OfflineCredentialFactory",
    "OpenIdMetadataServer",
    "StaticTokenCredentials",
    "default_signing_key",
    "mint_token",
    "use_offline_openid",
]


@functools.cache
def default_signing_key() -> rsa.RSAPrivateKey:
    """One RSA key per test process (generation is slow), published by ``OpenIdMetadataServer`` as ``DEFAULT_KID``."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def mint_token(
    app_id: str,
    service_url: str,
    *,
    issuer: str = BOT_FRAMEWORK_ISSUER,
    expires_in: int = 3600,
    key: rsa.RSAPrivateKey | None = None,
    kid: str = DEFAULT_KID,
    extra_claims: Mapping[str, Any] | None = None,
) -> str:
    """A Bot Framework channel token (RS256) with the claims Teams sends: ``iss``, ``aud``, ``serviceurl``, times.

    botbuilder allows 5 minutes of clock skew, so an *expired* token needs ``expires_in`` below -300.
    """
    now = int(time.time())
    claims: dict[str, Any] = {
        "serviceurl": service_url,
        "nbf": now - 5,
        "exp": now + expires_in,
        "iss": issuer,
        "aud": app_id,
        **(extra_claims or {}),
    }
    return jwt.encode(claims, key or default_signing_key(), algorithm="RS256", headers={"kid": kid})


class _OpenIdHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: OpenIdMetadataServer) -> None:
        super().__init__(("127.0.0.1", 0), _OpenIdHandler)
        self.owner = owner


class _OpenIdHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        owner = cast(_OpenIdHTTPServer, self.server).owner
        path = urlsplit(self.path).path
        owner._record(path)
        payload: dict[str, Any] | None = None
        if path == OpenIdMetadataServer.METADATA_PATH:
            payload = {
                "issuer": BOT_FRAMEWORK_ISSUER,
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": owner.base_url + OpenIdMetadataServer.KEYS_PATH,
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        elif path == OpenIdMetadataServer.KEYS_PATH:
            payload = {"keys": owner.jwks()}
        data = json.dumps(payload).encode() if payload is not None else b"{}"
        self.send_response(200 if payload is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class OpenIdMetadataServer(ThreadedServer):
    """The Bot Framework OpenID configuration and JWKS, served from a thread (botbuilder fetches them with blocking
    ``requests.get``). Keys carry ``kid`` and ``endorsements`` (the channel ids they may sign for).

    Use it with ``use_offline_openid(server)``; ``requested`` lists the paths fetched, to assert caching.
    """

    METADATA_PATH = "/v1/.well-known/openidconfiguration"
    KEYS_PATH = "/v1/.well-known/keys"

    def __init__(
        self, keys: Mapping[str, rsa.RSAPrivateKey] | None = None, endorsements: Sequence[str] = ("msteams",)
    ) -> None:
        self.keys = dict(keys) if keys is not None else {DEFAULT_KID: default_signing_key()}
        self.endorsements = list(endorsements)
        self.requested: list[str] = []
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port()}"

    @property
    def metadata_url(self) -> str:
        return self.base_url + self.METADATA_PATH

    def jwks(self) -> list[dict[str, Any]]:
        published = []
        for kid, key in self.keys.items():
            jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            published.append({**jwk, "kid": kid, "use": "sig", "endorsements": self.endorsements})
        return published

    def _record(self, path: str) -> None:
        with self._lock:
            self.requested.append(path)

    thread_name = "fake-openid"

    def _make_server(self) -> ThreadingHTTPServer:
        return _OpenIdHTTPServer(self)


@contextmanager
def use_offline_openid(server: OpenIdMetadataServer) -> Iterator[None]:
    """Point botbuilder's inbound JWT validation at ``server`` for the duration of the block, then restore it.

    Where botbuilder 4.17.1 reads OpenID metadata URLs (``botframework/connector/auth``):

    - ``ChannelValidation.open_id_metadata_endpoint`` (class attribute, default ``None`` = the public
      ``login.botframework.com`` URL). This is the one that matters: ``CloudAdapter`` with
      ``ConfigurationBotFrameworkAuthentication`` and no ``CHANNEL_SERVICE`` builds
      ``_PublicCloudBotFrameworkAuthentication``, which goes ``JwtTokenValidation.validate_auth_header`` ->
      ``ChannelValidation.authenticate_channel_token_with_service_url``.
      ``EnterpriseChannelValidation`` reads the same attribute.
    - ``GovernmentChannelValidation.OPEN_ID_METADATA_ENDPOINT`` (upper case!) for ``CHANNEL_SERVICE`` = US Gov.
    - ``EmulatorValidation`` and ``SkillValidation`` use the *constants*
      ``AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL`` (and the Government one) with no override.
      A token whose ``iss`` is an emulator/AAD issuer takes that path, so those URLs are pre-seeded in the cache below
      to keep such tests offline.
    - ``JwtTokenExtractor.metadataCache`` is a process-wide dict: metadata URL -> ``_OpenIdMetadata``, whose keys are
      kept for a day, and which only refetches on an unknown ``kid`` if the last fetch is over an hour old. A stale
      entry for a reused port would serve old keys, so entries for ``server`` are evicted on entry and exit.
    - Alternative without patching: ``cfg.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL`` (plus
      ``TO_BOT_FROM_CHANNEL_TOKEN_ISSUER`` etc.) switches to ``_ParameterizedBotFrameworkAuthentication``, a different
      code path from production, so it is not used here.
    """
    fixed_urls = [
        AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
        GovernmentConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
    ]
    cache = JwtTokenExtractor.metadataCache
    saved_channel = ChannelValidation.open_id_metadata_endpoint
    saved_gov = GovernmentChannelValidation.OPEN_ID_METADATA_ENDPOINT
    saved_cache = {url: cache.get(url) for url in fixed_urls}
    cache.pop(server.metadata_url, None)
    ChannelValidation.open_id_metadata_endpoint = server.metadata_url
    GovernmentChannelValidation.OPEN_ID_METADATA_ENDPOINT = server.metadata_url
    for url in fixed_urls:
        cache[url] = _OpenIdMetadata(server.metadata_url)
    try:
        yield
    finally:
        ChannelValidation.open_id_metadata_endpoint = saved_channel
        GovernmentChannelValidation.OPEN_ID_METADATA_ENDPOINT = saved_gov
        cache.pop(server.metadata_url, None)
        for url, previous in saved_cache.items():
            if previous is None:
                cache.pop(url, None)
            else:
                cache[url] = previous


# botbuilder ships no type information: at type-check time these bases are `object`, so no `Any` is subclassed.
if TYPE_CHECKING:
    _AppCredentialsBase = object
    _CredentialsFactoryBase = object
else:
    _AppCredentialsBase = MicrosoftAppCredentials
    _CredentialsFactoryBase = ServiceClientCredentialsFactory


class StaticTokenCredentials(_AppCredentialsBase):
    """``MicrosoftAppCredentials`` that never calls MSAL: every connector request gets ``Bearer <token>``."""

    def __init__(self, app_id: str, token: str) -> None:
        MicrosoftAppCredentials.__init__(self, app_id, "")
        self.token = token

    def get_access_token(self, force_refresh: bool = False) -> str:
        return self.token


class OfflineCredentialFactory(_CredentialsFactoryBase):
    """A ``ServiceClientCredentialsFactory`` with auth *enabled* for ``app_id`` and a static outbound token.

    ``ConfigurationBotFrameworkAuthentication(cfg, credentials_factory=OfflineCredentialFactory())``: inbound tokens
    must have ``aud == app_id``; outbound connector calls carry ``Authorization: Bearer fake-outbound-token``.
    """

    def __init__(self, app_id: str = TEST_APP_ID, token: str = "fake-outbound-token") -> None:
        self.app_id = app_id
        self.token = token

    async def is_valid_app_id(self, app_id: str) -> bool:
        return app_id == self.app_id

    async def is_authentication_disabled(self) -> bool:
        return False

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> StaticTokenCredentials:
        if app_id != self.app_id:
            raise PermissionError(f"Invalid app_id {app_id!r}")
        return StaticTokenCredentials(app_id, self.token)
