"""SQLite storage through sqlite-utils: the schema and its migrations, and the one ``Repository`` the core sees,
built from one module per concern. Only this package writes SQL. It may import ``bot`` (the core's dataclasses
and rules), sqlite3 and sqlite_utils; never ``adapters``.
"""
