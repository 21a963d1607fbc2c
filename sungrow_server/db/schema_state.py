"""What init-db recorded in sungrow_schema_state, for the next run to read."""

from psycopg import Connection


def state(conn: Connection, key: str) -> str | None:
    """A value init-db recorded earlier."""
    row = conn.execute("SELECT value FROM sungrow_schema_state WHERE key = %s", (key,)).fetchone()
    return row[0] if row else None


def record(conn: Connection, key: str, value: str) -> None:
    """Remember a value for the next init-db."""
    conn.execute(
        "INSERT INTO sungrow_schema_state (key, value) VALUES (%s, %s) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (key, value),
    )
