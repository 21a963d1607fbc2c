"""sungrow-server: telemetry of Sungrow hybrid inverters, stored and served over HTTP."""

from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    """Build the WSGI app; `test_config` replaces the environment (tests never read it)."""
    from . import auth, cache, cli, db, errors
    from .config import load_settings
    from .jsonprovider import OrjsonProvider
    from .views import register_blueprints

    app = Flask(__name__)
    app.json = OrjsonProvider(app)  # keeps key order, as API.md lists the fields
    app.config["SETTINGS"] = load_settings(test_config)
    auth.init_app(app)
    db.init_app(app)
    cache.init_app(app)
    register_blueprints(app)
    errors.register_error_handlers(app)
    cli.register_commands(app)
    return app
