"""sungrow-server: telemetry of Sungrow hybrid inverters, stored and served over HTTP."""

from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    """Build the WSGI app; `test_config` replaces the environment (tests never read it)."""
    from . import cache, cli, db, errors
    from .auth import TokenRegistry
    from .config import load_settings
    from .views import register_blueprints

    app = Flask(__name__)
    app.json.sort_keys = False  # fields go out in the order API.md lists them
    settings = load_settings(test_config)
    app.config["SETTINGS"] = settings
    app.extensions["sungrow.tokens"] = TokenRegistry(settings.device_tokens)
    db.init_app(app)
    cache.init_app(app)
    register_blueprints(app)
    errors.register_error_handlers(app)
    cli.register_commands(app)
    return app
