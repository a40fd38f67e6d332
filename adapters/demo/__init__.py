"""`engagebot demo`: local stand-ins for the platforms, the driver that plays simulated members through the real
adapters, and the run. It may import ``bot``, ``storage``, ``adapters.runtime`` and aiohttp's test utilities
(its stand-ins are local servers); the simulated community itself is ``bot.demo``.
"""
