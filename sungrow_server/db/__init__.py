"""The database: the connection pool, and `init-db`, which applies sql/ after finding out
what the database offers (TimescaleDB, its edition)."""
