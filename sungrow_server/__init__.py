"""sungrow-server: telemetry of Sungrow hybrid inverters, stored and served over HTTP."""

from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    """Build the WSGI app; `test_config` replaces the environment (tests never read it)."""
    from . import apidoc, auth, config, devices, errors, ops
    from .cli import register_commands
    from .db import pool, redis_client
    from .ingest.write import create_stage
    from .realtime import cache
    from .routes import register_blueprints
    from .series import sources
    from .web import body_deadline, cors
    from .web.json_provider import OrjsonProvider

    app = Flask(__name__)
    app.json = OrjsonProvider(app)  # keeps key order, as API.md lists the fields
    settings = config.load_settings(test_config)
    config.init_app(app, settings)
    pool.init_app(app, settings, on_connect=[create_stage])
    redis_client.init_app(app, settings)
    auth.init_app(app)
    cache.init_app(app, settings)
    sources.init_app(app)
    devices.init_app(app)
    ops.init_app(app)  # the first before_request: request id, timing, metrics
    register_blueprints(app)
    cors.init_app(app, settings)
    body_deadline.init_app(app, settings, config.load_server_settings(test_config).threads)
    apidoc.init_app(app, settings)
    errors.register_error_handlers(app)
    register_commands(app)
    return app
