"""Bearer tokens, held only as keyed digests and looked up in constant time."""

import hashlib
import hmac
import secrets

# Tokens made by `token create`: a recognisable prefix (so a leaked one is easy to spot
# in a log or a repository) and 256 random bits.
TOKEN_PREFIX = "sgr_"  # noqa: S105 (a prefix, not a secret)
TOKEN_BYTES = 32


class TokenRegistry:
    """Maps bearer tokens to devices without comparing the token itself byte by byte.

    Each configured token is stored only as an HMAC-SHA256 under a key drawn at start-up.
    A presented token is hashed the same way (the same work whatever it holds) and looked
    up by its digest. How long the look-up takes depends only on that digest, which nobody
    without the key can predict or steer, so it tells nothing about how much of a token
    was right or which configured token came closest, and it costs the same with one
    device or thousands (a loop of `hmac.compare_digest` over every token would not).
    """

    def __init__(self, tokens: dict[str, str]):
        self._key = secrets.token_bytes(32)
        self._devices = {self._digest(token): device for token, device in tokens.items()}

    def _digest(self, token: str) -> bytes:
        return hmac.new(self._key, token.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()

    def device_for(self, token: str) -> str | None:
        """The device bound to `token`, or None."""
        return self._devices.get(self._digest(token))


def new_token() -> str:
    """A fresh bearer token: the prefix and 256 random bits, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def stored_digest(token: str) -> bytes:
    """What the database keeps of a token: its SHA-256.

    A fast hash is right here, unlike for passwords: these tokens carry 256 random bits,
    so nobody can try a meaningful share of them whatever the hash costs, while a slow
    hash (bcrypt, scrypt) would cost every request milliseconds of CPU.
    """
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
