"""GET /v1/realtime: the newest sample per device, kept in Redis and read from PostgreSQL
on a miss."""
