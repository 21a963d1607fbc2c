"""A bare Flask app serving a fixed realtime answer: the ceiling the realtime path is held to.

`/v1/realtime` returns the bytes from memory. `/v1/realtime/redis` returns them from one
Redis GET, with the server's own Redis client settings: the floor that any answer
served from the cache, as API.md asks, cannot go below.
"""

import os

from flask import Flask

from sungrow_server.db.redis_client import build_redis

app = Flask(__name__)
# The JSON the real server answered for the same device, handed over by `python -m bench`.
BODY = os.environ.get("BENCH_BARE_BODY", "{}")
KEY = "bench:bare"
client = build_redis(os.environ["REDIS_URL"], int(os.environ.get("REDIS_TIMEOUT_MS", "100")))
client.set(KEY, BODY)


@app.get("/health")
def health():
    """200, so the bench can see the workers are up."""
    return {"status": "ok"}


@app.get("/v1/realtime")
def realtime():
    """The same bytes the real endpoint sends, without auth, Redis or PostgreSQL."""
    return app.response_class(BODY, mimetype="application/json")


@app.get("/v1/realtime/redis")
def realtime_redis():
    """The same bytes, read from Redis on every request; nothing else."""
    return app.response_class(client.get(KEY), mimetype="application/json")
