"""The app's one Redis client, for the realtime cache and the failed-auth counts: short
timeouts and no retries, since neither may ever make a request wait."""

import atexit

import redis
from flask import Flask, current_app
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..config import Settings

EXTENSION = "sungrow.redis"


def build_redis(url: str, timeout_ms: int) -> redis.Redis:
    """A client with short timeouts and no retries: a cache must never make a request wait."""
    timeout = timeout_ms / 1000
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
        health_check_interval=0,
    )


def init_app(app: Flask, settings: Settings) -> None:
    """One client per app, released when the process ends."""
    client = build_redis(settings.redis_url, settings.redis_timeout_ms)
    app.extensions[EXTENSION] = client
    atexit.register(client.close)


def get_redis(app: Flask | None = None) -> redis.Redis:
    """The Redis client of `app` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]
