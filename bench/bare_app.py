"""A bare Flask app serving a fixed realtime answer: the ceiling the realtime path is held to."""

import os

from flask import Flask

app = Flask(__name__)
# The JSON the real server answered for the same device, handed over by `python -m bench`.
BODY = os.environ.get("BENCH_BARE_BODY", "{}")


@app.get("/health")
def health():
    """200, so the bench can see the workers are up."""
    return {"status": "ok"}


@app.get("/v1/realtime")
def realtime():
    """The same bytes the real endpoint sends, without auth, Redis or PostgreSQL."""
    return app.response_class(BODY, mimetype="application/json")
