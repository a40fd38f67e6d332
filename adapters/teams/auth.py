"""Bot Framework authentication whose connector and token clients are built once and reused, not per activity."""

from __future__ import annotations

from typing import Any

from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    ClaimsIdentity,
    ConnectorFactory,
    UserTokenClient,
)

__all__ = ["ReusingAuthentication"]

MAX_REUSED_CLIENTS = 64


class _ReusingConnectorFactory(ConnectorFactory):
    """One ConnectorClient per (app id, service URL, audience), as BotFrameworkAdapter kept them, instead of a new one
    per activity: each costs about 1 ms of CPU in msrest/requests configuration (docs/PERFORMANCE.md, "Ingest")."""

    def __init__(self, inner: ConnectorFactory, cache: dict[tuple[Any, ...], Any]) -> None:
        self._inner = inner
        self._cache = cache

    async def create(self, service_url: str, audience: str | None = None) -> Any:
        key = (getattr(self._inner, "_app_id", None), service_url, audience)
        client = self._cache.get(key)
        if client is None:
            client = await self._inner.create(service_url, audience)
            if len(self._cache) >= MAX_REUSED_CLIENTS:
                self._cache.clear()
            self._cache[key] = client
        return client


class ReusingAuthentication(ConfigurationBotFrameworkAuthentication):
    """``CloudAdapter.process_activity`` builds a ConnectorClient and a UserTokenClient for every activity; both
    depend only on the app id (and the service URL and audience), so they are built once and reused."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connectors: dict[tuple[Any, ...], Any] = {}
        self._token_clients: dict[tuple[Any, ...], UserTokenClient] = {}

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        result = await super().authenticate_request(activity, auth_header)
        if result.connector_factory is not None and hasattr(result.connector_factory, "_app_id"):
            result.connector_factory = _ReusingConnectorFactory(result.connector_factory, self._connectors)
        return result

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        key = (
            claims_identity.get_claim_value(AuthenticationConstants.AUDIENCE_CLAIM),
            claims_identity.get_claim_value(AuthenticationConstants.APP_ID_CLAIM),
        )
        client = self._token_clients.get(key)
        if client is None:
            client = await super().create_user_token_client(claims_identity)
            if len(self._token_clients) >= MAX_REUSED_CLIENTS:
                self._token_clients.clear()
            self._token_clients[key] = client
        return client
