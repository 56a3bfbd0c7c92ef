"""Password hashing and the password policy (NIST SP 800-63B: length and a blocklist, no composition rules)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from passlib.context import CryptContext

from server.i18n import gettext as _

MIN_LENGTH = 8
MAX_LENGTH = 128

# OWASP's floor is argon2id m=19 MiB, t=2, p=1; m=32 MiB, t=3 costs about 75 ms here (target 50-100 ms).
password_context = CryptContext(
    schemes=["argon2"],
    argon2__type="ID",
    argon2__memory_cost=32 * 1024,
    argon2__time_cost=3,
    argon2__parallelism=1,
)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def password_problem(password: str, *, email: str = "") -> str | None:
    """Return a kind, specific message if the password can't be used, else None."""
    if len(password) < MIN_LENGTH:
        return _("Please use at least %(n)d characters.") % {"n": MIN_LENGTH}
    if len(password) > MAX_LENGTH:
        return _("Please use at most %(n)d characters.") % {"n": MAX_LENGTH}
    lowered = password.lower()
    if lowered in common_passwords():
        return _("That password is one of the most common ones, so it is easy to guess. Please pick another.")
    if email and lowered == email.lower():
        return _("Please don't use your email address as your password.")
    return None


def hash_password(password: str) -> str:
    return password_context.hash(password)


def verify_password(password: str, stored_hash: str) -> tuple[bool, str | None]:
    """Check a password; the second value is a new hash when the stored one uses old parameters."""
    return password_context.verify_and_update(password, stored_hash)


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A real hash to compare against when the account doesn't exist, so timing doesn't reveal it. Made with the
    context's parameters when the app is built (not on import), so a process that cheapens them (the test suite)
    compares against a hash as cheap as its own accounts'."""
    return password_context.hash("steady-timing-equaliser")
