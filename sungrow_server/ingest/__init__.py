"""POST /v1/ingest: the request body, its validation, and the atomic write of a batch."""
