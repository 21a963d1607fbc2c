"""What the database offers the schema: TimescaleDB, its preload, and its edition."""

from dataclasses import dataclass

from psycopg import Connection


@dataclass(frozen=True)
class Capabilities:
    """What the database offers the schema."""

    timescaledb_available: bool
    timescaledb_preloaded: bool
    license: str | None = None

    @property
    def timescaledb(self) -> bool:
        """TimescaleDB can be used (installed and loaded)."""
        return self.timescaledb_available and self.timescaledb_preloaded

    @property
    def continuous_aggregates(self) -> bool:
        """The licensed edition, which has continuous aggregates and policies."""
        return self.timescaledb and self.license == "timescale"


def preloaded_libraries(setting: str) -> set[str]:
    """Library names listed in shared_preload_libraries (quotes and paths removed)."""
    names = set()
    for item in setting.split(","):
        name = item.strip().strip('"').rsplit("/", 1)[-1]
        names.add(name.removesuffix(".so"))
    return names


def detect(conn: Connection) -> Capabilities:
    """Find out, without loading it, whether TimescaleDB can be used; load it if so.

    `CREATE EXTENSION timescaledb` ends the session with FATAL where the library is not
    preloaded, so the preload is checked first.
    """
    available = (
        conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
        is not None
    )
    setting = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()[0]
    preloaded = "timescaledb" in preloaded_libraries(setting)
    if not (available and preloaded):
        return Capabilities(available, preloaded)
    conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    license_ = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()[0]
    return Capabilities(True, True, license_)
