"""Platform adapters (Slack, Teams) and the runtime that hosts them on one aiohttp server."""
