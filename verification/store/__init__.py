"""Persistence: the database (SQLite by default) and the local data directory."""
