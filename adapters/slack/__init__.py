"""Slack: payload mapping, Block Kit rendering, posting, the signed route with its Bolt listeners, `/engage`,
display names. It may import ``bot`` and the Slack SDKs (slack_bolt, slack_sdk) and aiohttp; never ``storage``
(it gets the store's narrow protocols) nor the rest of ``adapters``.
"""
