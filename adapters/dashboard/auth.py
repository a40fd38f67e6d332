"""Sign-in over HTTP: the link's page, the POST that redeems it, the session cookie, sign-out and CSRF checks.

- ``GET /dashboard/login/<token>`` shows a Continue button and sets a short-lived cookie of its own; it never reads
  or uses the token, so link unfurlers and mail scanners that open links change nothing.
- ``POST`` to the same address needs that cookie and the form's CSRF value (an HMAC of the token keyed by the
  cookie: bound to this token and this browser), then redeems the token and answers 303 to ``/dashboard/`` with the
  session cookie: ``HttpOnly; Secure; SameSite=Strict; Path=/dashboard``, 8 hours.
- Every other request needs an active session whose member is still an admin: 401 without one (unknown, expired or
  ended), 403 when its member is no longer an admin (the session ends).
- Every POST needs the form's CSRF value, and is refused when the browser says it comes from another site
  (an ``Origin`` other than ``public_url``'s, ``Sec-Fetch-Site`` other than ``same-origin``): 403, nothing changes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from adapters.dashboard.headers import Refusal, page
from adapters.dashboard.site import Dashboard
from bot.dashboard.html import HOME, sign_in_page, signed_out_page
from bot.dashboard.signin import SESSION_TTL, TOKEN_TTL, Denied, Refused, SessionRecord, form_value, new_secret, same
from bot.dashboard.signin import well_formed as secret_shape

logger = logging.getLogger(__name__)

SESSION_COOKIE = "engagebot_session"
SIGNIN_COOKIE = "engagebot_signin"
SESSION_PATH = "/dashboard"
SIGNIN_PATH = "/dashboard/login"
SESSION_FORMS = "session forms"  # the purpose the session's CSRF value is made for
SIGNED_OUT = "/dashboard/signed-out"

BAD_LINK = (
    "This sign-in link does not work: it was used already, it has expired (links last 10 minutes), or it was never "
    "issued. Ask engagebot for a new one."
)
NOT_ADMIN = "This link or session belongs to someone who is no longer an engagebot admin."
NO_SESSION = "You are not signed in, or your session has ended. Ask engagebot for a sign-in link: /engage dashboard."
BAD_FORM = (
    "The form did not come back as this browser received it. Open the page again (this site's cookies must be "
    "allowed) and retry."
)
CROSS_SITE = "This request came from another site, so it was refused."


def set_cookie(response: web.StreamResponse, name: str, value: str, *, path: str, max_age: int) -> None:
    # Secure always: TLS ends at the proxy, so the request engagebot sees is http even when the browser's is https.
    response.set_cookie(name, value, path=path, max_age=max_age, secure=True, httponly=True, samesite="Strict")


def clear_cookie(response: web.StreamResponse, name: str, *, path: str) -> None:
    set_cookie(response, name, "", path=path, max_age=0)


def refuse(status: int, text: str, *, clear_session: bool = False) -> Refusal:
    response = page(status, text)
    if clear_session:
        clear_cookie(response, SESSION_COOKIE, path=SESSION_PATH)
    return Refusal(response)


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


@dataclass(frozen=True, slots=True)
class Signed:
    """A request's session, and the CSRF value its forms carry."""

    session: SessionRecord
    csrf: str


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    return parts.scheme, (parts.hostname or ""), parts.port or default


class Auth:
    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard

    # -- every request ----------------------------------------------------------------------------------------

    async def require(self, request: web.Request) -> Signed:
        """The request's session, or a Refusal: 401 without an active one, 403 for a member no longer admin."""
        secret = request.cookies.get(SESSION_COOKIE)
        try:
            session = await self.dashboard.run(self.dashboard.signin.session, secret)
        except Refused as refused:
            if refused.why is Denied.NOT_ADMIN:
                raise refuse(403, NOT_ADMIN, clear_session=True) from None
            raise refuse(401, NO_SESSION, clear_session=secret is not None) from None
        assert secret is not None
        return Signed(session, form_value(secret, SESSION_FORMS))

    def check_post(self, request: web.Request, sent: object, expected: str | None) -> None:
        """A POST's origin and CSRF value, else 403 (checked before anything changes)."""
        # With Referrer-Policy no-referrer a browser sends "Origin: null" on a form POST: only a real origin is
        # compared. Sec-Fetch-Site tells same-origin from any other site (a sibling subdomain included).
        origin = request.headers.get("Origin")
        site = request.headers.get("Sec-Fetch-Site")
        if (site is not None and site not in ("same-origin", "none")) or (
            origin not in (None, "null") and _origin(origin) != _origin(self.dashboard.public_url)
        ):
            raise refuse(403, CROSS_SITE)
        if expected is None or not isinstance(sent, str) or not same(sent, expected):
            raise refuse(403, BAD_FORM)

    # -- sign-in -----------------------------------------------------------------------------------------------

    @staticmethod
    def _token(request: web.Request) -> str:
        token = request.match_info.get("token", "")
        if not secret_shape(token):
            raise web.HTTPNotFound()
        return token

    async def login_page(self, request: web.Request) -> web.Response:
        """The link's page: a Continue button. The token is neither looked up nor used here."""
        token = self._token(request)
        nonce = new_secret()
        html = sign_in_page(f"{SIGNIN_PATH}/{token}", form_value(nonce, f"sign-in {token}"))
        response = web.Response(text=html, content_type="text/html", charset="utf-8")
        set_cookie(response, SIGNIN_COOKIE, nonce, path=SIGNIN_PATH, max_age=int(TOKEN_TTL.total_seconds()))
        return response

    async def login(self, request: web.Request) -> web.Response:
        """Continue pressed: redeem the token, start a session, and leave the token's address (303)."""
        token = self._token(request)
        form = await request.post()
        nonce = request.cookies.get(SIGNIN_COOKIE)
        expected = form_value(nonce, f"sign-in {token}") if nonce is not None and secret_shape(nonce) else None
        self.check_post(request, form.get("csrf"), expected)
        try:
            started = await self.dashboard.run(self.dashboard.signin.redeem, token)
        except Refused as refused:
            logger.info("dashboard sign-in refused reason=%s", refused.why.value.replace(" ", "-"))
            raise refuse(403, NOT_ADMIN if refused.why is Denied.NOT_ADMIN else BAD_LINK) from None
        response = see_other(HOME)
        set_cookie(
            response, SESSION_COOKIE, started.secret, path=SESSION_PATH, max_age=int(SESSION_TTL.total_seconds())
        )
        clear_cookie(response, SIGNIN_COOKIE, path=SIGNIN_PATH)
        return response

    async def logout(self, request: web.Request) -> web.Response:
        signed = await self.require(request)
        form = await request.post()
        self.check_post(request, form.get("csrf"), signed.csrf)
        await self.dashboard.run(self.dashboard.signin.sign_out, signed.session)
        response = see_other(SIGNED_OUT)
        clear_cookie(response, SESSION_COOKIE, path=SESSION_PATH)
        return response

    async def signed_out(self, request: web.Request) -> web.Response:
        return web.Response(text=signed_out_page(), content_type="text/html", charset="utf-8")
