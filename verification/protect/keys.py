"""Master keys from configuration, and the key ring used to unwrap per-object data keys.

Why a derived key id: each encrypted object records which master key wrapped its data key, so a
wrong or missing key gives a clear "object needs key <id>" error instead of a generic
authentication failure, and rotation can find the objects still wrapped under an old key. The id
is a SHA-256 digest of the key with a domain label, so it reveals nothing about the key itself.

Configuration (first one set wins for the primary key):

- ``VERIFICATION_MASTER_KEY``: base64 of 32 random bytes;
- ``VERIFICATION_MASTER_KEY_FILE``: a file holding that base64 text (e.g. a mounted secret);
- ``VERIFICATION_PREVIOUS_MASTER_KEYS``: comma-separated base64 keys still accepted for reading,
  while ``verification keys rewrap`` moves their objects to the primary key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from verification.protect.errors import KeyConfigError, WrongKeyError

KEY_BYTES = 32  # AES-256
KEY_ID_BYTES = 8
ENV_KEY = "VERIFICATION_MASTER_KEY"
ENV_KEY_FILE = "VERIFICATION_MASTER_KEY_FILE"
ENV_PREVIOUS_KEYS = "VERIFICATION_PREVIOUS_MASTER_KEYS"
_KEY_ID_LABEL = b"verification/master-key-id/v1\x00"


@dataclass(frozen=True)
class MasterKey:
    """A 256-bit key-encryption key; ``repr`` never shows the secret."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise KeyConfigError(f"a master key must be {KEY_BYTES} bytes "
                                 f"(got {len(self.secret)}); make one with "
                                 "`verification keys generate`")

    @property
    def key_id(self) -> bytes:
        return hashlib.sha256(_KEY_ID_LABEL + self.secret).digest()[:KEY_ID_BYTES]

    @property
    def key_id_hex(self) -> str:
        return self.key_id.hex()

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_base64(cls, text: str, *, source: str = "key") -> MasterKey:
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise KeyConfigError(f"{source} is not valid base64") from None
        if len(raw) != KEY_BYTES:
            raise KeyConfigError(f"{source} must decode to {KEY_BYTES} bytes, got {len(raw)}")
        return cls(raw)

    def to_base64(self) -> str:
        return base64.b64encode(self.secret).decode("ascii")


@dataclass(frozen=True)
class KeyRing:
    """The primary key (wraps new objects) and older keys still accepted for unwrapping."""

    primary: MasterKey
    previous: tuple[MasterKey, ...] = ()

    def find(self, key_id: bytes) -> MasterKey:
        for key in (self.primary, *self.previous):
            if key.key_id == key_id:
                return key
        known = ", ".join(k.key_id_hex for k in (self.primary, *self.previous))
        raise WrongKeyError(f"the object was encrypted under master key {key_id.hex()}, which is "
                            f"not configured (configured: {known}); set the right "
                            f"{ENV_KEY} or add the old key to {ENV_PREVIOUS_KEYS}")

    @classmethod
    def of(cls, primary: MasterKey, previous: Iterable[MasterKey] = ()) -> KeyRing:
        return cls(primary, tuple(k for k in previous if k.key_id != primary.key_id))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> KeyRing:
        """The key ring from ``VERIFICATION_*`` variables; no key configured is an error.

        Refusing to start without a key (rather than generating one silently) keeps an
        operator from losing every object at the next restart.
        """
        env = os.environ if env is None else env
        if env.get(ENV_KEY):
            primary = MasterKey.from_base64(env[ENV_KEY], source=ENV_KEY)
        elif env.get(ENV_KEY_FILE):
            primary = load_key_file(Path(env[ENV_KEY_FILE]))
        else:
            raise KeyConfigError(f"no master key configured: set {ENV_KEY} (base64 of 32 bytes) "
                                 f"or {ENV_KEY_FILE}; `verification keys generate` makes one")
        previous = [MasterKey.from_base64(part, source=f"{ENV_PREVIOUS_KEYS}[{i}]")
                    for i, part in enumerate(env.get(ENV_PREVIOUS_KEYS, "").split(","))
                    if part.strip()]
        return cls.of(primary, previous)


def load_key_file(path: Path) -> MasterKey:
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise KeyConfigError(f"master key file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise KeyConfigError(f"cannot read master key file {path}: {err}") from None
    return MasterKey.from_base64(text, source=f"master key file {path}")


DATA_DIR_KEY_FILE = "master.key"


def keyring_for_data_dir(data_dir: Path, env: Mapping[str, str] | None = None, *,
                         create: bool = False) -> KeyRing:
    """The key ring of a data dir: configuration first, then ``<data dir>/master.key``.

    Why a key file in the data dir at all: the README's one-command start must work on a fresh
    machine with nothing configured, and encryption at rest must still be on. ``create=True``
    (only ``verification serve`` passes it) writes a new random key there with mode 0600 and
    logs a warning: a key next to the data it protects only guards against leaked copies of
    single files, so production deployments set ``VERIFICATION_MASTER_KEY_FILE`` to a mounted
    secret outside the data dir. Commands (``keys rewrap``, ``retention``) never create a key:
    a missing key there is a configuration error, not a reason to start a new vault.
    """
    env = os.environ if env is None else env
    if env.get(ENV_KEY) or env.get(ENV_KEY_FILE):
        return KeyRing.from_env(env)
    path = Path(data_dir) / DATA_DIR_KEY_FILE
    if not path.exists():
        if not create:
            return KeyRing.from_env(env)  # raises "no master key configured"
        _create_key_file(path)
    previous = {k: v for k, v in env.items() if k == ENV_PREVIOUS_KEYS}
    return KeyRing.from_env({ENV_KEY_FILE: str(path), **previous})


def _create_key_file(path: Path) -> None:
    import logging

    path.parent.mkdir(parents=True, exist_ok=True)
    key = MasterKey.generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process created it first: use theirs
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.to_base64() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    logging.getLogger(__name__).warning(
        "no master key configured: generated %s (key id %s). Production deployments should "
        "keep the key outside the data dir: set %s to a mounted secret (or %s)", path,
        key.key_id_hex, ENV_KEY_FILE, ENV_KEY)
