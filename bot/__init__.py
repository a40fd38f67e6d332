"""engagebot's platform-neutral core: events, prompts, capture rules, summaries, commands and scheduling.
It imports the standard library, its own modules and small pure libraries (croniter, python-dotenv); never a
platform SDK, aiohttp, sqlite3/sqlite_utils, ``storage`` or ``adapters`` (storage is reached through ``bot.ports``).
"""
