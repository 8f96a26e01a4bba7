"""The encrypted-object format: AES-256-GCM envelope encryption, chunked for bounded memory.

Layout (all integers big-endian)::

    magic "VENC" | version u8 | master key id (8) | chunk size u32 | stream nonce prefix (7)
    | wrap nonce (12) | wrapped data key (32 + 16 tag)                      = 84-byte header
    then ceil(n / chunk size) chunks (at least one), each AES-GCM(plaintext chunk) + 16-byte tag

Why this shape:

- **Per-object data key, wrapped by the master key.** Only the 48-byte wrapped key depends on the
  master key, so rotating the master key rewrites the header and never touches the payload;
  deleting the header destroys the only copy of the data key (crypto-shredding).
- **Chunks of fixed size** (the STREAM construction): the nonce of chunk *i* is
  ``prefix | i (u32) | last-chunk flag``, so chunks cannot be reordered, dropped or the object
  truncated at a chunk boundary without an authentication failure, and memory stays at one chunk
  however long the recording. Fixed-size chunks also let :func:`read_range` decrypt just the
  chunks an HTTP range request needs (video seeking).
- **Everything authenticated.** The header fields and the caller's ``context`` (the object id)
  are associated data of both the key wrap and every chunk: an object copied over another
  object's file, or a header with an edited key id, fails loudly instead of decrypting.
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from verification.protect.errors import TamperedObjectError
from verification.protect.keys import KEY_BYTES, KEY_ID_BYTES, KeyRing, MasterKey

MAGIC = b"VENC"
VERSION = 1
TAG_BYTES = 16
NONCE_BYTES = 12
PREFIX_BYTES = 7
DEFAULT_CHUNK_BYTES = 64 * 1024
MIN_CHUNK_BYTES = 1024
MAX_CHUNK_BYTES = 16 * 1024 * 1024
MAX_CHUNKS = 2**32 - 1  # the chunk counter is 32 bits: 256 TiB at 64 KiB chunks

_FIXED = struct.Struct(f">4sB{KEY_ID_BYTES}sI{PREFIX_BYTES}s")
_WRAPPED_BYTES = KEY_BYTES + TAG_BYTES
HEADER_BYTES = _FIXED.size + NONCE_BYTES + _WRAPPED_BYTES


@dataclass(frozen=True)
class Header:
    key_id: bytes
    chunk_bytes: int
    prefix: bytes
    wrap_nonce: bytes
    wrapped_key: bytes

    def pack(self) -> bytes:
        fixed = _FIXED.pack(MAGIC, VERSION, self.key_id, self.chunk_bytes, self.prefix)
        return fixed + self.wrap_nonce + self.wrapped_key

    def payload_aad(self, context: bytes) -> bytes:
        """What every chunk authenticates: the fields a key rotation never changes."""
        fixed = MAGIC + bytes([VERSION]) + struct.pack(">I", self.chunk_bytes)
        return fixed + self.prefix + context

    def wrap_aad(self, context: bytes) -> bytes:
        return self.payload_aad(context) + self.key_id

    @classmethod
    def parse(cls, raw: bytes) -> Header:
        if len(raw) < HEADER_BYTES:
            raise TamperedObjectError("not an encrypted object: the header is truncated")
        magic, version, key_id, chunk_bytes, prefix = _FIXED.unpack_from(raw)
        if magic != MAGIC:
            raise TamperedObjectError("not an encrypted object: bad magic bytes")
        if version != VERSION:
            raise TamperedObjectError(f"unsupported encrypted-object version {version}")
        if not MIN_CHUNK_BYTES <= chunk_bytes <= MAX_CHUNK_BYTES:
            raise TamperedObjectError(f"implausible chunk size {chunk_bytes} in the header")
        offset = _FIXED.size
        wrap_nonce = raw[offset:offset + NONCE_BYTES]
        wrapped = raw[offset + NONCE_BYTES:HEADER_BYTES]
        return cls(key_id, chunk_bytes, prefix, wrap_nonce, wrapped)


def _wrap(key: MasterKey, data_key: bytes, header: Header, context: bytes) -> Header:
    nonce = secrets.token_bytes(NONCE_BYTES)
    draft = Header(key.key_id, header.chunk_bytes, header.prefix, nonce, b"")
    wrapped = AESGCM(key.secret).encrypt(nonce, data_key, draft.wrap_aad(context))
    return Header(key.key_id, header.chunk_bytes, header.prefix, nonce, wrapped)


def unwrap_data_key(header: Header, keyring: KeyRing, context: bytes) -> bytes:
    key = keyring.find(header.key_id)  # WrongKeyError names the missing key id
    try:
        return AESGCM(key.secret).decrypt(header.wrap_nonce, header.wrapped_key,
                                          header.wrap_aad(context))
    except InvalidTag:
        raise TamperedObjectError("the object's key header failed authentication: it was "
                                  "modified, or the file belongs to another object") from None


def rewrap(raw_header: bytes, keyring: KeyRing, new_key: MasterKey, context: bytes) -> bytes:
    """A new header whose data key is wrapped by ``new_key``; the payload stays valid as is."""
    header = Header.parse(raw_header)
    data_key = unwrap_data_key(header, keyring, context)
    return _wrap(new_key, data_key, header, context).pack()


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index > MAX_CHUNKS:
        raise ValueError("object too large for the chunk counter")
    return prefix + struct.pack(">IB", index, 1 if last else 0)


def _read_full(source: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes; shorter only at end of stream (pipes return partial reads)."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        part = source.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def encrypt_stream(source: BinaryIO, sink: BinaryIO, key: MasterKey, context: bytes,
                   chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
    """Encrypt ``source`` to ``sink`` under a fresh data key; returns the plaintext size."""
    if not MIN_CHUNK_BYTES <= chunk_bytes <= MAX_CHUNK_BYTES:
        raise ValueError(f"chunk size must be in [{MIN_CHUNK_BYTES}, {MAX_CHUNK_BYTES}]")
    data_key = AESGCM.generate_key(bit_length=8 * KEY_BYTES)
    draft = Header(key.key_id, chunk_bytes, secrets.token_bytes(PREFIX_BYTES), b"", b"")
    header = _wrap(key, data_key, draft, context)
    sink.write(header.pack())
    aead, aad = AESGCM(data_key), header.payload_aad(context)
    total, index = 0, 0
    current = _read_full(source, chunk_bytes)
    while True:
        following = _read_full(source, chunk_bytes) if len(current) == chunk_bytes else b""
        last = not following
        sink.write(aead.encrypt(_nonce(header.prefix, index, last), current, aad))
        total += len(current)
        if last:
            return total
        current, index = following, index + 1


def _open_chunk(aead: AESGCM, header: Header, aad: bytes, index: int, last: bool,
                sealed: bytes) -> bytes:
    try:
        return aead.decrypt(_nonce(header.prefix, index, last), sealed, aad)
    except InvalidTag:
        raise TamperedObjectError(f"chunk {index} failed authentication: the object was "
                                  "modified or truncated") from None


def decrypt_stream(source: BinaryIO, keyring: KeyRing, context: bytes) -> Iterator[bytes]:
    """Plaintext chunks of an encrypted object, one chunk in memory at a time.

    Each chunk is authenticated before it is yielded; truncation is only detectable at the end,
    so a consumer must read to the end (or treat a late :class:`TamperedObjectError` as fatal).
    """
    header = Header.parse(_read_full(source, HEADER_BYTES))
    aead = AESGCM(unwrap_data_key(header, keyring, context))
    aad, sealed_bytes = header.payload_aad(context), header.chunk_bytes + TAG_BYTES
    index = 0
    current = _read_full(source, sealed_bytes)
    while True:
        following = _read_full(source, sealed_bytes) if len(current) == sealed_bytes else b""
        yield _open_chunk(aead, header, aad, index, not following, current)
        if not following:
            return
        current, index = following, index + 1


def plaintext_size(stored_bytes: int, chunk_bytes: int) -> int:
    """The plaintext length of a stored object of ``stored_bytes`` (header included)."""
    body = stored_bytes - HEADER_BYTES
    sealed = chunk_bytes + TAG_BYTES
    chunks = max(1, -(-body // sealed))
    size = body - chunks * TAG_BYTES
    if body < TAG_BYTES or size < 0:
        raise TamperedObjectError("the object is truncated")
    return size


def read_range(source: BinaryIO, stored_bytes: int, keyring: KeyRing, context: bytes,
               start: int, stop: int) -> Iterator[bytes]:
    """Plaintext bytes ``[start, stop)``, decrypting only the chunks that hold them.

    For HTTP range requests: seeking in a long recording costs one or two chunks, not the file.
    """
    source.seek(0)
    header = Header.parse(_read_full(source, HEADER_BYTES))
    total = plaintext_size(stored_bytes, header.chunk_bytes)
    start, stop = max(0, start), min(stop, total)
    if start >= stop:
        return
    aead = AESGCM(unwrap_data_key(header, keyring, context))
    aad, sealed_bytes = header.payload_aad(context), header.chunk_bytes + TAG_BYTES
    last_index = max(0, -(-total // header.chunk_bytes) - 1)
    for index in range(start // header.chunk_bytes, (stop - 1) // header.chunk_bytes + 1):
        source.seek(HEADER_BYTES + index * sealed_bytes)
        plain = _open_chunk(aead, header, aad, index, index == last_index,
                            _read_full(source, sealed_bytes))
        base = index * header.chunk_bytes
        yield plain[max(0, start - base):stop - base]
