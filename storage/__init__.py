"""SQLite storage through sqlite-utils: the schema, its migrations and every query. Only this package writes SQL."""
