"""What an operation of the OpenAPI document answers: its 200 and the errors of API.md."""

from .responses import ErrorSchema

JSON = "application/json"
NO_DATA = "No data found for the device, or no such site."
HEADERS = {
    "WWW-Authenticate": {"description": "`Bearer`", "required": True, "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds", "required": True, "schema": {"type": "integer"}},
}


def error(description: str, header: str | None = None) -> dict:
    """An error answer: the one {"detail"} shape, and a header it always carries."""
    response = {"description": description, "content": {JSON: {"schema": ErrorSchema}}}
    if header:
        response["headers"] = {header: HEADERS[header]}
    return response


def answers(ok: dict, *errors: int, not_found: str = NO_DATA) -> dict:
    """The 200 and the error responses of API.md for one operation."""
    known = {
        400: error("Body is not valid JSON or not valid gzip."),
        401: error("Missing credentials, or invalid or expired token.", "WWW-Authenticate"),
        403: error(
            "The device or site is not readable with this token, or a read-only token "
            "tried to write."
        ),
        404: error(not_found),
        408: error("The body did not come within BODY_READ_TIMEOUT_S seconds."),
        413: error("Body over MAX_REQUEST_BYTES, or more samples than MAX_SAMPLES_PER_REQUEST."),
        415: error("A Content-Encoding other than gzip or identity."),
        422: error("A list of {loc, msg, type}; a sentence for the series' own checks."),
        429: error("Too many failed authentications from this address.", "Retry-After"),
        503: error("Database unavailable, try again later.", "Retry-After"),
    }
    return {200: ok, **{status: known[status] for status in errors}}


def success(description: str, schema) -> dict:
    """A 200 with a JSON body of `schema`."""
    return {"description": description, "content": {JSON: {"schema": schema}}}
