"""The edge of engagebot: one package per platform (``slack``, ``teams``) translating payloads and rendering cards,
the runtime that wires them to the core and storage on one aiohttp server, and the jobs around it (serve, post,
reconcile, maintenance, the demo). These may import ``bot`` and ``storage``; the platform packages import neither.
"""
