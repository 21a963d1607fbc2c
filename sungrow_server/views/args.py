"""Query arguments through a marshmallow schema, with 422 locations under `query`."""

from flask import Request
from marshmallow import Schema, ValidationError

from ..errors import APIError, validation_items
from ..fastload import load


def load_args(schema: Schema, request: Request) -> dict:
    """The validated query arguments (the first of repeated ones); 422 otherwise."""
    try:
        return load(schema, request.args.to_dict())
    except ValidationError as exc:
        raise APIError(422, validation_items(exc.messages, ("query",))) from None
