"""API tokens in the catalog: create (shown once), list, revoke, and check a presented token.

Only the SHA-256 of a token is stored. A presented token is hashed and compared with every
active hash in constant time (`hmac.compare_digest`, no early exit), so neither the database
lookup nor the comparison tells an attacker how much of a guess was right. While no active token
exists, writes are open (the embedded single-user default).
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Engine, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from vantage.catalog.db import read_tx, write_tx
from vantage.catalog.models import ApiToken, utcnow
from vantage.errors import ConflictError, InvalidInputError, TokenNotFoundError

TOKENS = cast(Table, ApiToken.__table__)

#: Every token starts with this, so secret scanners and people can tell what it is.
TOKEN_PREFIX = "vt_"  # noqa: S105  (a prefix, not a secret)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: ``last_used_at`` is written at most this often per token (a write per request is waste).
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenInfo:
    """What the catalog knows about a token (never the token itself)."""

    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        """Whether the token still grants access."""
        return self.revoked_at is None


def hash_token(token: str) -> str:
    """The hex SHA-256 under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh token: the prefix and 256 random bits, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class _ActiveToken:
    id: int
    token_sha256: str
    last_used_at: datetime | None


class TokenStore:
    """The API tokens of one catalog."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, name: str) -> tuple[str, TokenInfo]:
        """Make a token called ``name``; returns the token (shown once) and its record.

        Raises:
            InvalidInputError: the name is not 1–64 letters, digits, '.', '_' or '-'.
            ConflictError: a token (active or revoked) already has that name.
        """
        if not _NAME.fullmatch(name):
            raise InvalidInputError(
                f"token name {name!r} must be 1–64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit",
                field="name",
            )
        token, now = new_token(), utcnow()
        try:
            with write_tx(self.engine) as conn:
                conn.execute(
                    insert(TOKENS).values(name=name, token_sha256=hash_token(token), created_at=now)
                )
        except IntegrityError:
            raise ConflictError(
                f"a token named {name!r} already exists (revoked names stay taken); "
                "choose another name",
                name=name,
            ) from None
        return token, TokenInfo(name, now, None, None)

    def list(self) -> builtins.list[TokenInfo]:
        """Every token, oldest first, revoked ones included."""
        query = select(
            TOKENS.c.name, TOKENS.c.created_at, TOKENS.c.last_used_at, TOKENS.c.revoked_at
        ).order_by(TOKENS.c.id)
        with read_tx(self.engine) as conn:
            return [TokenInfo(*row) for row in conn.execute(query)]

    def revoke(self, name: str) -> TokenInfo:
        """Revoke the token called ``name`` at once; revoking it again changes nothing.

        Raises:
            TokenNotFoundError: no token has that name.
        """
        with write_tx(self.engine) as conn:
            conn.execute(
                update(TOKENS)
                .where(TOKENS.c.name == name, TOKENS.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            row = conn.execute(
                select(
                    TOKENS.c.name, TOKENS.c.created_at, TOKENS.c.last_used_at, TOKENS.c.revoked_at
                ).where(TOKENS.c.name == name)
            ).first()
        if row is None:
            raise TokenNotFoundError(f"no API token named {name!r}", name=name)
        return TokenInfo(*row)

    def required(self) -> bool:
        """Whether writes need a token (at least one token is active)."""
        query = select(TOKENS.c.id).where(TOKENS.c.revoked_at.is_(None)).limit(1)
        with read_tx(self.engine) as conn:
            return conn.scalar(query) is not None

    def check(self, presented: str | None) -> bool:
        """Whether a write presenting ``presented`` (or nothing) may go ahead.

        True when no token is active (writes are open), or when ``presented`` is active.
        """
        active = self._active()
        return not active or self._match(active, presented)

    def valid(self, presented: str | None) -> bool:
        """Whether ``presented`` is an active token (its ``last_used_at`` is then updated)."""
        return self._match(self._active(), presented)

    def _active(self) -> builtins.list[_ActiveToken]:
        query = select(TOKENS.c.id, TOKENS.c.token_sha256, TOKENS.c.last_used_at).where(
            TOKENS.c.revoked_at.is_(None)
        )
        with read_tx(self.engine) as conn:
            return [_ActiveToken(*row) for row in conn.execute(query)]

    def _match(self, active: builtins.list[_ActiveToken], presented: str | None) -> bool:
        if not presented:
            return False
        digest = hash_token(presented).encode()
        match = None
        for row in active:  # no early exit: the time taken does not depend on which matched
            if hmac.compare_digest(digest, row.token_sha256.encode()):
                match = row
        if match is None:
            return False
        now = utcnow()
        if match.last_used_at is None or now - match.last_used_at >= LAST_USED_RESOLUTION:
            with write_tx(self.engine) as conn:
                conn.execute(update(TOKENS).where(TOKENS.c.id == match.id).values(last_used_at=now))
        return True
