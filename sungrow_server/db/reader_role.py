"""A PostgreSQL role that reads what dashboards need (samples, rollups, sites) and
nothing else: not the tokens, and it writes nothing. For Grafana's PostgreSQL source."""

import re

from psycopg import Connection, sql

from ..model.rollups import VIEWS

# What the role may read, where it exists: never sungrow_tokens.
READABLE = ("sungrow_samples", *VIEWS.values(), "sungrow_sites", "sungrow_site_devices")
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
STATE_KEY = "reader_role"


def grant_reader(conn: Connection, role: str, say) -> None:
    """Make `role` (a login without a password, if it is new) and let it read READABLE.

    Run again after the rollups are rebuilt: a view made anew has no grants.
    """
    name = sql.Identifier(role)
    if not role_exists(conn, role):
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOINHERIT").format(name))
        say(
            f"made role {role}, which can log in once it has a password: "
            f"psql -c '\\password {role}'"
        )
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(_schema(conn), name))
    present = [
        row[0]
        for row in conn.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relname = ANY(%s) "
            "AND c.relnamespace = current_schema()::regnamespace",
            (list(READABLE),),
        ).fetchall()
    ]
    for relation in sorted(present, key=READABLE.index):
        conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(relation), name))
    conn.execute(sql.SQL("REVOKE ALL ON sungrow_tokens FROM {}").format(name))
    say(f"role {role} reads {', '.join(sorted(present, key=READABLE.index))} (and nothing else)")


def role_exists(conn: Connection, role: str) -> bool:
    """Whether the role exists."""
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def _schema(conn: Connection) -> sql.Identifier:
    return sql.Identifier(conn.execute("SELECT current_schema()").fetchone()[0])
