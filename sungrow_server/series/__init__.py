"""GET /v1/series: request parsing, the choice of rollup, the SQL, and the buckets as JSON
or CSV. How energy and local time are computed is in model/, shared with ingest."""
