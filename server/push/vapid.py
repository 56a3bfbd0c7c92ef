"""VAPID (RFC 8292) application-server keys: load them from the environment or a key file."""

from __future__ import annotations

import base64
import contextlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid.jwt import sign as sign_jwt

from server import clock

KEY_FILENAME = "vapid_private.pem"
# Push services reject a JWT whose exp is more than 24 h ahead; 12 h leaves room for clock skew.
DEFAULT_TOKEN_LIFETIME = 12 * 60 * 60
# Used only when VAPID_SUBJECT is unset. Operators should set a real contact: Apple's
# service in particular refuses subjects it cannot reach.
DEFAULT_SUBJECT = "mailto:steady@localhost"

_SUBJECT_RE = re.compile(r"^(mailto:[^\s@]+@[^\s@]+|https://[^\s]+)$", re.IGNORECASE)


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(data: str | bytes) -> bytes:
    raw = data.encode("ascii") if isinstance(data, str) else data
    # Browsers and key tools hand out both alphabets, with or without padding.
    raw = raw.strip().replace(b"+", b"-").replace(b"/", b"_").rstrip(b"=")
    return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))


def public_key_b64(private_key: ec.EllipticCurvePrivateKey) -> str:
    """The uncompressed P-256 point, URL-safe base64: what PushManager.subscribe() wants."""
    point = private_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url_encode(point)


def parse_private_key(value: str | bytes) -> ec.EllipticCurvePrivateKey:
    """Accept PEM, base64 DER, or the 32-byte raw scalar (the `web-push` CLI format)."""
    text = value.decode("ascii") if isinstance(value, bytes) else value
    # Env vars often carry PEM with literal "\n" because of one-line .env files.
    text = text.strip().replace("\\n", "\n")
    if "-----BEGIN" in text:
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
    else:
        raw = b64url_decode(text)
        if len(raw) == 32:
            key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
        else:
            key = serialization.load_der_private_key(raw, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("VAPID private key must be an EC P-256 key")
    return key


def check_subject(subject: str) -> str:
    subject = subject.strip()
    if not _SUBJECT_RE.match(subject):
        raise ValueError("VAPID subject must be a mailto: address or an https:// URL")
    return subject


@dataclass(frozen=True)
class VapidKeys:
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    subject: str = DEFAULT_SUBJECT
    # Derived from private_key; exposed for the page that calls PushManager.subscribe().
    public_key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "subject", check_subject(self.subject))
        object.__setattr__(self, "public_key", public_key_b64(self.private_key))

    @classmethod
    def generate(cls, subject: str = DEFAULT_SUBJECT) -> VapidKeys:
        return cls(ec.generate_private_key(ec.SECP256R1()), subject)

    @classmethod
    def from_private(cls, value: str | bytes, subject: str = DEFAULT_SUBJECT) -> VapidKeys:
        return cls(parse_private_key(value), subject)

    @property
    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def private_raw(self) -> str:
        """The 32-byte scalar, URL-safe base64 (the format most web-push tooling prints)."""
        return b64url_encode(self.private_key.private_numbers().private_value.to_bytes(32, "big"))

    def authorization_header(
        self, audience: str, *, lifetime: int = DEFAULT_TOKEN_LIFETIME, now: float | None = None
    ) -> str:
        """`vapid t=<jwt>,k=<key>` for one push-service origin.

        A fresh claims dict every call: pywebpush's helpers mutate the dict they get, so a shared
        one keeps the first endpoint's `aud` and every other push service rejects the token.
        """
        issued = int(clock.timestamp() if now is None else now)
        claims = {"aud": audience, "exp": issued + lifetime, "sub": self.subject}
        # py_vapid's JWT signer (sorted claims, raw r||s signature) without Vapid02.sign,
        # whose aud regex rejects IPv6 origins such as http://[::1]:8080.
        return f"vapid t={sign_jwt(claims, self.private_key)},k={self.public_key}"


def _create_key_file(path: Path) -> None:
    """Write a new key without ever exposing a half-written or world-readable file."""
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        # link() fails if another worker won the race; then everyone uses the winner's key.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def load_or_create_vapid_keys(
    data_dir: Path, env: Mapping[str, str], *, default_subject: str = DEFAULT_SUBJECT
) -> VapidKeys:
    """Env vars win; otherwise data_dir/vapid_private.pem, created on first use.

    The key must stay stable: every browser subscription is bound to the public key it was
    created with, so a new key silently orphans all existing subscriptions.
    """
    subject = env.get("VAPID_SUBJECT") or default_subject
    env_private = (env.get("VAPID_PRIVATE_KEY") or "").strip()
    env_public = (env.get("VAPID_PUBLIC_KEY") or "").strip()
    if env_private:
        keys = VapidKeys.from_private(env_private, subject)
        if env_public and b64url_decode(env_public) != b64url_decode(keys.public_key):
            raise ValueError("VAPID_PUBLIC_KEY does not match VAPID_PRIVATE_KEY")
        return keys
    if env_public:
        raise ValueError("VAPID_PUBLIC_KEY is set but VAPID_PRIVATE_KEY is not")

    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / KEY_FILENAME
    if not path.exists():
        _create_key_file(path)
    elif path.stat().st_mode & 0o077:
        # Tighten a key file someone copied in with loose permissions; best effort.
        with contextlib.suppress(OSError):
            path.chmod(0o600)
    return VapidKeys.from_private(path.read_bytes(), subject)
