"""Microsoft Teams: activity mapping, Adaptive Cards, posting, the activity handler, conversation references,
file consent and Bot Framework auth. It may import ``bot``, botbuilder/botframework and aiohttp; never ``storage``
(it gets the store's narrow protocols) nor the rest of ``adapters``.
"""
