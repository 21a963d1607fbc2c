"""`sungrow-server COMMAND` (installed) or `python -m sungrow_server COMMAND`: the same
commands as `flask --app sungrow_server COMMAND`, through Flask's FlaskGroup."""

from flask.cli import FlaskGroup

from . import create_app

main = FlaskGroup(
    create_app=create_app,
    help=(
        "sungrow-server: init-db, refresh-aggregates, export, import, backup, restore, "
        "alerts, doctor, and Flask's run, routes and shell."
    ),
)

if __name__ == "__main__":
    main()
