"""`engagebot post`: post the next prompt now, from the command line, while `serve` may be running."""

from __future__ import annotations

import logging
import sys

from adapters.runtime import Runtime
from bot.config import ChannelConfig, Settings
from bot.errors import BotError, PostInDoubt, UsageError
from bot.events import Platform

logger = logging.getLogger(__name__)


def target_channels(settings: Settings, platform: str | None, channel: str | None) -> list[ChannelConfig]:
    if channel:
        assert platform is not None  # the CLI requires --platform with --channel
        configured = [c for c in settings.channels if c.platform.value == platform and c.id == channel]
        return configured or [ChannelConfig(Platform(platform), channel)]
    targets = [c for c in settings.channels if platform is None or c.platform.value == platform]
    if not targets:
        where = f"{platform} channels" if platform else "channels"
        raise UsageError(
            f"no {where} configured: add [[channels]] to the config file, or give --platform and --channel"
        )
    return targets


async def post_prompts(
    settings: Settings, *, platform: str | None, channel: str | None, theme: str | None, dry_run: bool
) -> int:
    targets = target_channels(settings, platform, channel)
    runtime = Runtime.build(settings)
    failures = 0
    try:
        for target in targets:
            poster = runtime.posters.get(target.platform)
            if poster is None:
                raise UsageError("Slack is not configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET")
            if dry_run:
                prompt = runtime.engagement.choose_prompt(target.platform, target.id, theme)
                print(f"{target.platform.value}:{target.id} would get [{prompt.theme}] {prompt.text}")
                continue
            try:
                post = await runtime.engagement.post_prompt(poster, target.id, theme)
            except UsageError:
                raise
            except PostInDoubt as err:  # never posted again blindly: the admin looks first
                failures += 1
                print(
                    f"{target.platform.value}:{target.id} may have been posted; check the channel before posting "
                    f"again ({err})",
                    file=sys.stderr,
                )
                continue
            except BotError as err:  # one channel failing must not stop the others
                failures += 1
                print(f"{target.platform.value}:{target.id} failed: {err}", file=sys.stderr)
                continue
            print(f"{target.platform.value}:{target.id} posted [{post.theme}] {post.prompt} (post_id {post.key})")
    finally:
        await runtime.aclose()
    return 1 if failures else 0
