"""Parsers of single environment values: each returns the typed value or raises ValueError
with a message that names the flaw, never the value (it may hold a secret)."""

import contextlib
import ipaddress
import re
from urllib.parse import unquote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from psycopg.conninfo import conninfo_to_dict


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***`, and no query string (`***` for a URL
    that cannot be read)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def redact_secrets(text: str, *urls: str) -> str:
    """`text` with every password of `urls` (as written and as decoded) and every whole
    URL replaced, for messages of libraries that may quote them (libpq quotes the part
    of a URL it cannot parse, password and all)."""
    for url in urls:
        text = text.replace(url, redact_url(url))
        for secret in _passwords(url):
            text = text.replace(secret, "***")
    return text


def _passwords(url: str) -> set[str]:
    found = set()
    try:
        userinfo = urlsplit(url).netloc.rpartition("@")[0]
    except ValueError:
        userinfo = ""
    if ":" in userinfo:
        written = userinfo.split(":", 1)[1]
        # An unescaped @ splits a password: libpq quotes its second part as the host.
        found.update({written, unquote(written), *written.split("@")})
    with contextlib.suppress(psycopg.Error):  # a Redis URL, or one libpq cannot read
        found.add(conninfo_to_dict(url).get("password") or "")
    found.discard("")
    return found


def parse_device_tokens(raw: str) -> dict[str, str]:
    """`token:device_id,...` into {token: device_id}; ValueError names the flaw, never a token."""
    tokens: dict[str, str] = {}
    for index, part in enumerate(raw.split(","), start=1):
        part = part.strip()
        if not part:
            raise ValueError(f"pair {index} is empty")
        if ":" not in part:
            raise ValueError(f"pair {index} has no ':' between token and device id")
        token, device_id = (piece.strip() for piece in part.split(":", 1))
        if not token or not device_id:
            raise ValueError(f"pair {index} has an empty token or device id")
        if token in tokens:
            raise ValueError(f"pair {index} repeats a token")
        if not token.isascii():
            # A request header arrives decoded as Latin-1: such a token could never match.
            raise ValueError(f"pair {index} has a token with characters other than ASCII")
        tokens[token] = device_id
    return tokens


def database_url(raw: str) -> str:
    """A postgresql:// URL (a driver suffix such as `+asyncpg` is dropped) that libpq can
    parse: checked here, at start-up, because libpq's own error quotes the part it could
    not parse, password and all, and the server would log it on every request."""
    match = re.fullmatch(r"(postgres(?:ql)?)(\+[A-Za-z0-9_]+)?(://.+)", raw.strip())
    if not match:
        raise ValueError("must be a postgresql:// URL")
    url = "postgresql" + match.group(3)
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise ValueError(_url_flaw(str(exc))) from None
    if "@" in params.get("host", ""):
        # libpq takes the first @: the rest of the password became the host name.
        raise ValueError("has an @ in the user or password; write it as %40")
    if not all(port.isdigit() for port in params.get("port", "0").split(",")):
        raise ValueError("has a port that is not a number")
    return url


def _url_flaw(libpq_message: str) -> str:
    """What is wrong with a URL, in words that quote nothing of it."""
    if "percent-encoded" in libpq_message:
        return "has a % that is not followed by two hex digits; write a % in a password as %25"
    if "IPv6" in libpq_message:
        return "has an IPv6 host address without its closing ]"
    if "query parameter" in libpq_message:
        return "has a query parameter that PostgreSQL does not know"
    return "is not a URL that PostgreSQL can read"


def redis_url(raw: str) -> str:
    """A redis://, rediss:// or unix:// URL."""
    if urlsplit(raw.strip()).scheme not in ("redis", "rediss", "unix"):
        raise ValueError("must be a redis://, rediss:// or unix:// URL")
    return raw.strip()


def int_at_least(minimum: int):
    """A parser of integers no smaller than `minimum`."""

    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"must be an integer >= {minimum}") from None
        if value < minimum:
            raise ValueError(f"must be an integer >= {minimum}")
        return value

    return parse


def positive_float(raw: str) -> float:
    """A finite number above 0."""
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("must be a number > 0") from None
    if not 0 < value < float("inf"):
        raise ValueError("must be a number > 0")
    return value


def addresses(raw: str) -> frozenset[str]:
    """Comma-separated IP addresses in canonical form, or `none` for none."""
    if raw.strip().lower() == "none":
        return frozenset()
    found = set()
    for part in raw.split(","):
        if part.strip():
            try:
                found.add(str(ipaddress.ip_address(part.strip())))
            except ValueError:
                raise ValueError("must be comma-separated IP addresses, or none") from None
    return frozenset(found)


def origins(raw: str) -> tuple[str, ...]:
    """Comma-separated web origins (`https://dash.example.org`, a port if not the
    scheme's), in the form browsers send them: lower case, no path, no trailing slash."""
    found = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        parts = urlsplit(part)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if (
            parts.scheme.lower() not in ("http", "https")
            or not parts.hostname
            or parts.username is not None
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
            or port == -1
        ):
            raise ValueError("must be comma-separated origins such as https://dash.example.org")
        scheme, netloc = parts.scheme.lower(), parts.netloc.lower()
        if (scheme, port) in (("http", 80), ("https", 443)):  # browsers leave it out
            netloc = netloc.rsplit(":", 1)[0]
        origin = f"{scheme}://{netloc}"
        if origin not in found:
            found.append(origin)
    return tuple(found)


# Files that zoneinfo opens but that name no place's zone: `localtime` is whatever zone
# the machine was set to (and PostgreSQL reads its own), `posixrules` a template,
# `Factory` the zone of a machine not set up yet; the `posix/` and `right/` trees are
# copies, and `right/` counts leap seconds, which PostgreSQL applies and Python does not
# (27 s apart in 2026).
NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
NOT_ZONE_TREES = ("posix/", "right/")


def is_zone_name(name: str) -> bool:
    """Whether `name` is a real IANA time zone name (`Europe/Berlin`, `UTC`)."""
    if name in NOT_ZONES or name.startswith(NOT_ZONE_TREES):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def timezone(raw: str) -> str:
    """An IANA time zone name."""
    name = raw.strip()
    if not is_zone_name(name):
        raise ValueError("must be an IANA time zone name such as Europe/Berlin")
    return name


def log_level(raw: str) -> str:
    """One of Python's level names, lower case."""
    level = raw.strip().lower()
    if level not in ("debug", "info", "warning", "error", "critical"):
        raise ValueError("must be one of debug, info, warning, error, critical")
    return level


def parse_all(environ, parsers: dict) -> tuple[dict, list[str]]:
    """Typed values by attribute of every variable set in `environ`, and the problems
    found (`NAME (flaw)`); absent or empty variables are left out."""
    values, problems = {}, []
    for name, (attribute, parse) in parsers.items():
        raw = environ.get(name)
        if raw is None or not str(raw).strip():
            continue
        try:
            values[attribute] = parse(str(raw))
        except ValueError as exc:
            problems.append(f"{name} ({exc})")
    return values, problems
