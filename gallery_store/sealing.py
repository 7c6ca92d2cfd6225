"""Sealed private notes: a data key per person that only that person can open.

A private reflection is encrypted (AES-256-GCM) with its author's data key. The store never
holds a data key in the clear, only wrapped:

- by a key derived from the person's password (argon2id, a salt of its own);
- by a key derived from their recovery code (shown once, when the account is made);
- for each session, by a key derived from the session token, which only the browser's
  cookie holds (the store keeps a hash of it). So the server can open someone's notes only
  while their browser is asking.

Every wrapping key also mixes in the person's vault secret: 32 random bytes in
``keys/<user id>.key``, a folder kept outside the store and its rolling backups. Deleting an
account deletes that file, and with it every way to open the wrapped keys, wherever copies
of them are (crypto-shredding).

A reset code from a therapist opens nothing: after a reset without the recovery code the old
key stays locked (only the recovery code can open it) and new notes get a new key.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .durable import atomic_write_bytes, fsync_dir, make_folder
from .errors import PermissionDenied

__all__ = [
    "LOCKED_MESSAGE",
    "KeyVault",
    "Keyring",
    "Sealer",
    "new_recovery_code",
    "normalise_recovery_code",
    "require",
]

log = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12
RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U to misread
RECOVERY_GROUPS = 5
RECOVERY_GROUP_LENGTH = 5  # 25 characters of 30: about 122 bits
_USER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

LOCKED_MESSAGE = (
    "Please sign in again to open your private notes — they're locked with your password."
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _derive(secret: bytes, material: bytes, purpose: str) -> bytes:
    """Return a 256-bit wrapping key from the vault secret and one more secret."""
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=None,
        info=f"kindred-canvas/{purpose}/v1".encode(),
    ).derive(secret + material)


def _wrap(wrapping_key: bytes, data_key: bytes, context: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    return _b64(nonce + AESGCM(wrapping_key).encrypt(nonce, data_key, context.encode()))


def _unwrap(wrapping_key: bytes, wrapped: str | None, context: str) -> bytes | None:
    if not wrapped:
        return None
    try:
        blob = _unb64(wrapped)
        return AESGCM(wrapping_key).decrypt(
            blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode()
        )
    except (InvalidTag, ValueError):
        return None


def normalise_recovery_code(code: str | None) -> str:
    """Return a recovery code as typed, without spaces, dashes or its prefix, upper case."""
    cleaned = re.sub(r"[^A-Za-z0-9]", "", code or "").upper()
    return cleaned[2:] if cleaned.startswith("RC") else cleaned


def new_recovery_code() -> str:
    """Return a fresh recovery code, grouped to copy by hand: RC-XXXXX-XXXXX-…"""
    groups = [
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_GROUP_LENGTH))
        for _ in range(RECOVERY_GROUPS)
    ]
    return "RC-" + "-".join(groups)


@dataclass(frozen=True)
class Keyring:
    """The data keys a signed-in person has open, and a recovery code to show them once."""

    user_id: str
    keys: dict[str, bytes] = field(repr=False)
    current: str
    recovery_code: str | None = field(default=None, repr=False)

    def seal(self, payload: dict, record_id: str) -> dict:
        """Encrypt a note's private fields with the current key, bound to its record."""
        nonce = os.urandom(NONCE_BYTES)
        plain = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        box = AESGCM(self.keys[self.current]).encrypt(nonce, plain, self._context(record_id))
        return {"v": 1, "key": self.current, "box": _b64(nonce + box)}

    def open(self, sealed: dict, record_id: str) -> dict | None:
        """Return a sealed note's private fields, or None when its key is not open."""
        key = self.keys.get(sealed.get("key", ""))
        if key is None:
            return None
        try:
            blob = _unb64(sealed["box"])
            plain = AESGCM(key).decrypt(
                blob[:NONCE_BYTES], blob[NONCE_BYTES:], self._context(record_id)
            )
        except (InvalidTag, ValueError, KeyError):
            log.warning("a sealed note could not be opened with its key")
            return None
        return json.loads(plain)

    def _context(self, record_id: str) -> bytes:
        return f"{self.user_id}:{record_id}".encode()


def require(keyring: Keyring | None, user_id: str) -> Keyring:
    """Return the actor's open keyring, or ask them to sign in again."""
    if keyring is None or keyring.user_id != user_id:
        raise PermissionDenied(LOCKED_MESSAGE)
    return keyring


class KeyVault:
    """One random secret per person, in files outside the store and its backups."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, user_id: str) -> Path:
        if not _USER_ID.match(user_id):
            raise ValueError("not a user id")
        return self.folder / f"{user_id}.key"

    def create(self, user_id: str) -> bytes:
        """Make (or return the existing) secret for a person."""
        existing = self.get(user_id)
        if existing is not None:
            return existing
        make_folder(self.folder)
        os.chmod(self.folder, 0o700)
        secret = os.urandom(KEY_BYTES)
        atomic_write_bytes(self._path(user_id), secret)
        return secret

    def get(self, user_id: str) -> bytes | None:
        """Return a person's secret, or None if they have none (or it was destroyed)."""
        try:
            secret = self._path(user_id).read_bytes()
        except (FileNotFoundError, ValueError):
            return None
        return secret if len(secret) == KEY_BYTES else None

    def destroy(self, user_id: str) -> None:
        """Delete a person's secret for good: nothing sealed for them can be opened again."""
        path = self._path(user_id)
        try:
            # Overwrite first: on most filesystems this reaches the same blocks.
            with open(path, "r+b") as handle:
                handle.write(os.urandom(KEY_BYTES))
                handle.flush()
                os.fsync(handle.fileno())
            path.unlink()
        except FileNotFoundError:
            return
        fsync_dir(self.folder)

    def user_ids(self) -> set[str]:
        """Return whose secrets the vault holds."""
        if not self.folder.exists():
            return set()
        return {p.stem for p in self.folder.glob("*.key")}


@dataclass(frozen=True)
class Unlocked:
    """A keyring and the fields of the account record that hold its wrapped keys."""

    keyring: Keyring
    fields: dict


class Sealer:
    """Make, wrap, unwrap and re-wrap people's data keys."""

    def __init__(self, vault: KeyVault, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self.vault = vault
        self.time_cost = time_cost
        self.memory_kib = memory_kib
        self.parallelism = parallelism

    # -- wrapping keys ----------------------------------------------------------------------

    def _password_key(self, user_id: str, secret: bytes, password: str, salt: bytes) -> bytes:
        raw = hash_secret_raw(
            password.encode(),
            salt,
            time_cost=self.time_cost,
            memory_cost=self.memory_kib,
            parallelism=self.parallelism,
            hash_len=KEY_BYTES,
            type=Type.ID,
        )
        return _derive(secret, raw, f"password/{user_id}")

    def _recovery_key(self, user_id: str, secret: bytes, code: str) -> bytes:
        return _derive(secret, normalise_recovery_code(code).encode(), f"recovery/{user_id}")

    def _session_key(self, user_id: str, secret: bytes, token: str) -> bytes:
        return _derive(secret, token.encode(), f"session/{user_id}")

    # -- the person's keys ----------------------------------------------------------------------

    def _seal(
        self, user_id: str, secret: bytes, key_id: str, data_key: bytes, password: str, code: str
    ) -> dict:
        """Return the stored form of a data key: wrapped by the password and the recovery code."""
        salt = os.urandom(16)
        return {
            "key_id": key_id,
            "salt": _b64(salt),
            "by_password": _wrap(
                self._password_key(user_id, secret, password, salt), data_key, key_id
            ),
            "by_recovery": _wrap(self._recovery_key(user_id, secret, code), data_key, key_id),
        }

    def new_key(self, user_id: str, password: str, *, locked: list | None = None) -> Unlocked:
        """Make a person's data key and recovery code, wrapped by both."""
        secret = self.vault.create(user_id)
        key_id = secrets.token_hex(8)
        data_key = AESGCM.generate_key(bit_length=256)
        code = new_recovery_code()
        seal = self._seal(user_id, secret, key_id, data_key, password, code)
        keyring = Keyring(user_id, {key_id: data_key}, key_id, recovery_code=code)
        return Unlocked(keyring, {"seal": seal, "locked_keys": list(locked or [])})

    def with_password(self, record: dict, password: str) -> Keyring | None:
        """Open a person's current key with their password."""
        seal = record.get("seal")
        secret = self.vault.get(record["id"])
        if not seal or secret is None:
            return None
        wrapping = self._password_key(record["id"], secret, password, _unb64(seal["salt"]))
        data_key = _unwrap(wrapping, seal.get("by_password"), seal["key_id"])
        if data_key is None:
            return None
        return Keyring(record["id"], {seal["key_id"]: data_key}, seal["key_id"])

    def with_recovery(self, record: dict, code: str) -> dict[str, bytes]:
        """Return every key of a person's that this recovery code opens (current or locked)."""
        secret = self.vault.get(record["id"])
        if secret is None or not normalise_recovery_code(code):
            return {}
        wrapping = self._recovery_key(record["id"], secret, code)
        opened = {}
        candidates = [record.get("seal") or {}, *(record.get("locked_keys") or [])]
        for entry in candidates:
            if entry.get("key_id"):
                data_key = _unwrap(wrapping, entry.get("by_recovery"), entry["key_id"])
                if data_key is not None:
                    opened[entry["key_id"]] = data_key
        return opened

    def rewrap_password(self, record: dict, keyring: Keyring, password: str) -> dict:
        """Return the seal with the current key wrapped by a new password (recovery kept)."""
        seal = dict(record["seal"])
        secret = self.vault.get(record["id"])
        if secret is None:
            raise PermissionDenied(LOCKED_MESSAGE)
        salt = os.urandom(16)
        seal["salt"] = _b64(salt)
        seal["by_password"] = _wrap(
            self._password_key(record["id"], secret, password, salt),
            keyring.keys[seal["key_id"]],
            seal["key_id"],
        )
        return seal

    def recover(self, record: dict, opened: dict[str, bytes], code: str, password: str) -> Unlocked:
        """Make keys opened by the recovery code current again, under a new password.

        The recovery code stays the same (the person has it written down); notes under older
        keys are re-sealed with the current one by the caller.
        """
        secret = self.vault.create(record["id"])
        current = (record.get("seal") or {}).get("key_id")
        if current not in opened:
            current = next(iter(opened))
        seal = self._seal(record["id"], secret, current, opened[current], password, code)
        still_locked = [
            entry
            for entry in record.get("locked_keys") or []
            if entry.get("key_id") not in opened and entry.get("key_id") != current
        ]
        old = record.get("seal") or {}
        if old.get("key_id") and old["key_id"] not in opened:
            # The current key was made after a reset; the code opened the older one.
            still_locked.append({"key_id": old["key_id"], "by_recovery": old.get("by_recovery")})
        return Unlocked(
            Keyring(record["id"], dict(opened), current),
            {"seal": seal, "locked_keys": still_locked},
        )

    # -- sessions -------------------------------------------------------------------------------

    def for_session(self, keyring: Keyring, token: str) -> dict:
        """Wrap a person's open keys for one session token."""
        secret = self.vault.get(keyring.user_id)
        if secret is None:
            return {}
        wrapping = self._session_key(keyring.user_id, secret, token)
        return {
            "current": keyring.current,
            "keys": {kid: _wrap(wrapping, key, kid) for kid, key in keyring.keys.items()},
        }

    def from_session(self, user_id: str, session_seal: dict | None, token: str) -> Keyring | None:
        """Open the keys a session holds, with the token its browser presented."""
        secret = self.vault.get(user_id)
        if not session_seal or secret is None:
            return None
        wrapping = self._session_key(user_id, secret, token)
        keys = {}
        for key_id, wrapped in (session_seal.get("keys") or {}).items():
            data_key = _unwrap(wrapping, wrapped, key_id)
            if data_key is not None:
                keys[key_id] = data_key
        current = session_seal.get("current")
        if current not in keys:
            return None
        return Keyring(user_id, keys, current)
