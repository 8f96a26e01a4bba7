"""Data protection: encryption at rest, retention, a tamper-evident audit log, accounts and roles.

Each module has one job and no web dependency, so the reviewer console, the interview flow and
the CLI can all sit on the same rules:

- :mod:`.keys` / :mod:`.envelope` / :mod:`.store`: AES-256-GCM envelope encryption of every
  sensitive object (ID photos, recordings, reference frames, face and voice templates);
- :mod:`.audit`: an append-only, SHA-256 hash-chained audit log;
- :mod:`.retention`: per-product retention and data-subject deletion;
- :mod:`.accounts` / :mod:`.roles`: local accounts (argon2id) and role-based authorisation.
"""
