"""Query arguments through a marshmallow schema, with 422 locations under `query`."""

from flask import Request
from marshmallow import EXCLUDE, Schema, ValidationError, validate

from ..errors import APIError, validation_items
from .compiled_loader import load
from .fields import Text


class DeviceArgsSchema(Schema):
    """Query arguments that name one device; others are ignored."""

    class Meta:
        unknown = EXCLUDE

    device_id = Text(required=True, validate=validate.Length(min=1, error="Field required"))


class SiteArgsSchema(Schema):
    """Query arguments that name one site instead of a device; others are ignored."""

    class Meta:
        unknown = EXCLUDE

    site_id = Text(required=True, validate=validate.Length(min=1, error="Field required"))


def site_requested(request: Request) -> bool:
    """Whether the request names a site; 422 if it names a device as well."""
    if "site_id" not in request.args:
        return False
    if "device_id" in request.args:
        raise APIError(422, "Give either device_id or site_id, not both.")
    return True


def load_args(schema: Schema, request: Request) -> dict:
    """The validated query arguments (the first of repeated ones); 422 otherwise."""
    try:
        return load(schema, request.args.to_dict())
    except ValidationError as exc:
        raise APIError(422, validation_items(exc.messages, ("query",))) from None
