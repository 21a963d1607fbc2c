"""The numbered files of sql/: where they are, their header tags, and their placeholders."""

from pathlib import Path

from psycopg import sql

from ..model.rollups import VIEWS, raw_columns, rolled_columns

# In a source tree the files are the repository's sql/; an installed wheel carries them
# inside the package (pyproject.toml maps sql/ to sungrow_server/sql).
_PACKAGED = Path(__file__).resolve().parent.parent / "sql"
_SOURCE = Path(__file__).resolve().parent.parent.parent / "sql"


def sql_dir() -> Path:
    """The directory of the schema files."""
    return _PACKAGED if _PACKAGED.is_dir() else _SOURCE


def sql_files() -> list[Path]:
    """The schema files in the order they apply."""
    return sorted(sql_dir().glob("[0-9][0-9][0-9]_*.sql"))


def header(path: Path) -> dict[str, str]:
    """The `-- key: value` lines that open a file (requires, autocommit)."""
    tags = {}
    for line in path.read_text().splitlines():
        if not line.startswith("--"):
            break
        key, _, value = line[2:].strip().partition(":")
        tags[key.strip()] = value.strip()
    return tags


def _columns(columns: list[str]) -> sql.SQL:
    return sql.SQL(",\n       ".join(columns))  # fixed fragments of model/rollups.py


def render(path: Path, timezone: str) -> sql.Composed:
    """A file with its placeholders filled: the zone and the bucket origin in it, the rollup
    views' names and columns (model/rollups.py). A file holds no other braces."""
    names = {"hourly": VIEWS["hour"], "daily": VIEWS["day"], "monthly": VIEWS["month"]}
    return sql.SQL(path.read_text()).format(
        timezone=sql.Literal(timezone),
        origin=sql.SQL("('2000-01-01 00:00'::timestamp AT TIME ZONE {})").format(
            sql.Literal(timezone)
        ),
        raw_columns=_columns(raw_columns()),
        rolled_columns=_columns(rolled_columns()),
        **{key: sql.Identifier(name) for key, name in names.items()},
        **{f"{key}_name": sql.Literal(name) for key, name in names.items()},
    )
