"""Chat commands (`/engage …` on Slack, a message to the bot on Teams): parsing, permissions, replies.

One module because it is the chat's one front door: every command's usage, permission check and reply wording is
here, side by side; the work behind each command is Engagement's."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.dashboard.signin import SignIn
from bot.errors import AdapterError, PostInDoubt, UsageError
from bot.events import Platform, member_id
from bot.model import ErasureCounts
from bot.ports import Card, Poster
from bot.scheduler_time import next_slot
from bot.service import REPORT_MAX_WEEKS, REPORT_WEEKS, Engagement
from bot.timeutil import IsoWeek, to_display, utc_now
from bot.wording import data_held, held_in, plural

logger = logging.getLogger(__name__)

OPTOUT_SCRUB_WAIT_SECONDS = 2.0  # how long `optout` waits for readers of the database (Slack wants an answer in 3 s)

PUBLIC = ("help", "privacy", "mydata", "optout", "optin", "quote", "whoami")
ADMIN = ("summary", "post", "themes", "schedule", "export", "report", "dashboard")
USAGE = {
    "help": "help: what you can do here",
    "summary": "summary [this|last|YYYY-Www]: the engagement summary of a week (default last week)",
    "post": "post [theme]: post the next prompt (of that theme) in this channel now",
    "themes": "themes: themes, prompt counts and when each was last posted",
    "schedule": "schedule: when the next prompt and summary go out",
    "export": "export [week]: a CSV of that week's replies and reactions",
    "report": "report [weeks]: the leadership report of the last 8 (or that many) complete weeks, as an HTML file",
    "dashboard": "dashboard: a sign-in link to the dashboard, for you only (it works once, within 10 minutes)",
    "optout": "optout: stop capturing your messages and erase what was stored",
    "optin": "optin: resume capturing your replies and reactions",
    "privacy": "privacy: what engagebot stores about you, why, and for how long",
    "mydata": "mydata: a file of everything engagebot has stored about you, sent privately",
    "quote": "quote ok|off: allow (or stop) anonymous quotes of your replies in the weekly summary",
    "whoami": "whoami: your member id, as admins list it in the configuration",
}


def privacy_text(retention_days: int, consent: str, quote_emoji: str) -> str:
    mode = "Nothing is captured until you say `optin`." if consent == "opt-in" else "You can say `optout` at any time."
    return (
        "*What is captured:* your replies in the threads of engagebot's discussion prompts, your reactions to "
        "those prompts and replies, and your platform user id and display name. Nothing else from the channel "
        "is stored. If you are an admin, your dashboard sign-ins are kept too.\n"
        "*Why:* so the professional body can hear members' views on its policy work; admins see weekly figures "
        "and can export a week's replies. Channel summaries never name anyone and withhold figures about very "
        "small groups.\n"
        f"*How long:* reply text is removed after {retention_days} days; the counts stay.\n"
        f"*Your choices:* {mode} `optout` stops capture and erases everything stored about you; `optin` resumes "
        f"it from that moment (nothing from before is captured). `mydata` sends you a copy of what is stored. Your "
        f"replies are quoted (without your name) in the weekly summaries, including those posted to channels, only "
        f"if you say `quote ok` (on Slack, reacting with :{quote_emoji}: also counts); `quote off` stops it. What "
        f"you said last counts."
    )


def _words(text: str) -> list[str]:
    """The command's words, without a leading ``engage`` (``/engage`` on Slack)."""
    words = (text or "").strip().split()
    if words and words[0].lower().lstrip("/") == "engage":
        words = words[1:]
    return words


def command_name(text: str) -> str | None:
    """The known command ``text`` asks for (its first word, after an optional ``engage``), else None."""
    words = _words(text)
    name = words[0].lower() if words else ""
    return name if name in PUBLIC or name in ADMIN else None


@dataclass(frozen=True, slots=True)
class CommandContext:
    platform: Platform
    user_id: str
    channel_id: str
    display_name: str | None = None
    public: bool = False  # asked where the whole channel sees the answer (a Teams @mention in a channel)

    @property
    def member(self) -> str:
        return member_id(self.platform, self.user_id)


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str


@dataclass(frozen=True, slots=True)
class CommandReply:
    card: Card
    attachment: Attachment | None = None
    public: bool = False  # meant for the channel (the summary asked in a channel); otherwise for the caller only

    @property
    def text(self) -> str:
        """A plain-text rendering (notification fallback and tests)."""
        parts = [self.card.title]
        parts += [f"{label}: {value}" for label, value in self.card.facts]
        parts += [f"{heading}\n{body}" if heading else body for heading, body in self.card.sections]
        return "\n".join(parts)


class Commands:
    def __init__(
        self, engagement: Engagement, posters: Mapping[Platform, Poster], dashboard: SignIn | None = None
    ) -> None:
        self.engagement = engagement
        self.posters = posters
        self.dashboard = dashboard  # None: the dashboard is off

    async def handle(self, ctx: CommandContext, text: str) -> CommandReply:
        words = _words(text)
        name = words[0].lower() if words else "help"
        args = words[1:]
        is_admin = self.engagement.settings.is_admin(ctx.member)
        if name not in PUBLIC and name not in ADMIN:
            return self._help(is_admin, note=f"Unknown command {name!r}.")
        if name in ADMIN and not is_admin:
            logger.info("command refused command=%s platform=%s", name, ctx.platform)
            return _card(
                "Not allowed",
                f"`{name}` is for engagebot admins. Ask an admin if you need it.\n"
                + "You can use: "
                + ", ".join(PUBLIC),
            )
        logger.info("command command=%s platform=%s admin=%s", name, ctx.platform, is_admin)
        try:
            return await self._dispatch(name, args, ctx, is_admin)
        except UsageError as err:
            return _card("Cannot do that", f"{err}\nUsage: {USAGE[name]}")
        except PostInDoubt as err:  # never posted again blindly: the admin looks first
            return _card(
                "May have been posted",
                f"{err}\nThe prompt may have been posted: check the channel before you post again.",
            )
        except AdapterError as err:
            return _card("The platform refused", str(err))

    async def _dispatch(self, name: str, args: list[str], ctx: CommandContext, is_admin: bool) -> CommandReply:
        engagement = self.engagement
        match name:
            case "help":
                return self._help(is_admin)
            case "whoami":
                role = "You are an engagebot admin." if is_admin else "You are not an engagebot admin."
                return _card(
                    "Your member id",
                    f"`{ctx.member}`\n{role} To make someone an admin, add their id to `admins` in engagebot.toml "
                    "(or to ENGAGEBOT_ADMINS) and restart engagebot.",
                )
            case "privacy":
                settings = engagement.settings
                return _card("Privacy", privacy_text(settings.retention_days, settings.consent, settings.quote_emoji))
            case "mydata":
                data = engagement.member_data(ctx.member)
                content = (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode()
                held = held_in(data)
                return CommandReply(
                    _card(
                        "Your data",
                        f"Everything engagebot stores about you: {', '.join(held)} and your member record.",
                    ).card,
                    Attachment(f"engagebot-mydata-{ctx.platform.value}.json", content, "application/json"),
                )
            case "quote":
                choice = (_one_arg(args, "quote") or "").lower()
                if choice not in ("ok", "off"):
                    raise UsageError("say `quote ok` or `quote off`")
                engagement.set_quote_consent(ctx.member, choice == "ok")
                return _card(
                    "Quotes",
                    "Your replies may be quoted anonymously in the weekly summary."
                    if choice == "ok"
                    else "Your replies will not be quoted.",
                )
            case "optout":
                # The erasure waits for readers of the database (to scrub the files): in a worker thread, so the
                # other requests go on meanwhile.
                counts = await asyncio.to_thread(
                    engagement.opt_out, ctx.member, requested_by=ctx.member, scrub_wait=OPTOUT_SCRUB_WAIT_SECONDS
                )
                later = (
                    ""
                    if counts.scrubbed
                    else " Another program is reading the database: the erased text is wiped from its files as soon "
                    "as it closes."
                )
                return _card(
                    "You have opted out",
                    f"Your messages will no longer be captured. Erased {_erased(counts)}.{later} Use `optin` to take "
                    "part again; what you wrote before that is never captured.",
                )
            case "optin":
                changed = engagement.opt_in(ctx.member)
                return _card(
                    "You have opted in" if changed else "You were not opted out",
                    "Your replies and reactions to prompts will be captured from now on; nothing from before "
                    "is captured.",
                )
            case "summary":
                week = engagement.week(_one_arg(args, "summary"))
                # Asked in a channel: the card the channel gets on Mondays (small groups withheld), not the exact one.
                card = await engagement.off_loop(
                    lambda reader: reader.summary_card(reader.summary(week), public=ctx.public)
                )
                return CommandReply(card, public=ctx.public)
            case "export":
                week = engagement.week(_one_arg(args, "export"))
                rows, csv = await engagement.off_loop(lambda reader: _export(reader, week))
                return CommandReply(
                    _card(f"Export {week}", f"{plural(len(rows), 'row')}: replies and reactions of {week}.").card,
                    Attachment(f"engagebot-{week}.csv", csv.encode(), "text/csv"),
                )
            case "report":
                first, last = engagement.report_weeks(_weeks(_one_arg(args, "report")))
                html = await engagement.off_loop(
                    lambda reader: reader.report_html(first, last)
                )  # never exact through chat
                return CommandReply(
                    _card(
                        f"Report {first} to {last}",
                        "The leadership report of those weeks: one HTML file that opens offline in any browser "
                        "and prints on A4. Figures about very small groups are withheld.",
                    ).card,
                    Attachment(engagement.report_filename(first, last), html.encode(), "text/html"),
                )
            case "dashboard":
                if args:
                    raise UsageError(f"too many arguments: {' '.join(args)}")
                return self._dashboard_link(ctx)
            case "themes":
                lines = [
                    f"• {t.theme}: {plural(t.prompts, 'prompt')}, last posted "
                    f"{to_display(t.last_posted) if t.last_posted else 'never'}"
                    for t in engagement.themes_overview()
                ]
                return _card("Themes", "\n".join(lines))
            case "schedule":
                return self._schedule(utc_now())
            case "post":
                poster = self.posters.get(ctx.platform)
                if poster is None:
                    raise UsageError(f"posting to {ctx.platform} is not configured")
                theme = " ".join(args) or None
                post = await engagement.post_prompt(poster, ctx.channel_id, theme)
                return _card("Prompt posted", f"*{post.theme}*: {post.prompt}")
        raise UsageError(f"unknown command {name!r}")  # pragma: no cover - guarded above

    def _dashboard_link(self, ctx: CommandContext) -> CommandReply:
        if self.dashboard is None:
            return _card(
                "The dashboard is off",
                "To turn it on, set `public_url` (the https address engagebot is reached at) in engagebot.toml "
                "and restart engagebot.",
            )
        link = self.dashboard.issue(ctx.member)
        until = link.expires_at.astimezone(self.engagement.settings.timezone)
        logger.info("dashboard link issued platform=%s", ctx.platform)
        return _card(
            "Your dashboard sign-in link",
            f"{link.url}\nIt works once, until {until:%H:%M} ({until.tzname()}), and only for you: do not forward "
            "it. Open it and press Continue.",
        )

    def _help(self, is_admin: bool, note: str = "") -> CommandReply:
        names = [*PUBLIC, *ADMIN] if is_admin else list(PUBLIC)
        body = "\n".join(f"• `{USAGE[n]}`" for n in names)
        return _card("engagebot commands", f"{note}\n{body}".strip())

    def _schedule(self, now: datetime) -> CommandReply:
        settings = self.engagement.settings
        tz = settings.timezone
        prompt_at = next_slot(settings.prompt_cron, now, tz).astimezone(tz)
        summary_at = next_slot(settings.summary_cron, now, tz).astimezone(tz)
        channels = ", ".join(f"{c.platform.value}:{c.id}" for c in settings.channels) or "none configured"
        return CommandReply(
            Card(
                title="Schedule",
                facts=(
                    ("Next prompt", f"{prompt_at:%a %d %b %Y %H:%M} {tz.key} ({settings.prompt_cron})"),
                    ("Next summary", f"{summary_at:%a %d %b %Y %H:%M} {tz.key} ({settings.summary_cron})"),
                    ("Prompt channels", channels),
                ),
            )
        )


def _export(engagement: Engagement, week: IsoWeek) -> tuple[list[dict[str, Any]], str]:
    rows = engagement.export_rows(week)
    return rows, engagement.rows_to_csv(rows)


def _one_arg(args: list[str], name: str) -> str | None:
    if len(args) > 1:
        raise UsageError(f"too many arguments: {' '.join(args)}")
    return args[0] if args else None


def _weeks(arg: str | None) -> int:
    if arg is None:
        return REPORT_WEEKS
    if not (arg.isascii() and arg.isdigit()) or not 1 <= int(arg) <= REPORT_MAX_WEEKS:
        raise UsageError(f"{arg!r} is not a number of weeks from 1 to {REPORT_MAX_WEEKS}")
    return int(arg)


def _erased(counts: ErasureCounts) -> str:
    """What an opt-out erased: "1 reply, 0 reactions and 2 dashboard sign-in links"."""
    parts = data_held(counts.replies, counts.reactions, counts.dashboard_links, counts.dashboard_sessions)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _card(title: str, text: str) -> CommandReply:
    return CommandReply(Card(title=title, sections=(("", text),)))
