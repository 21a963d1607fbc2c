"""What the server's own pages share: a strict Content-Security-Policy, and their static
files served gzipped (once per worker) and revalidated by ETag."""

import gzip
import hashlib
import mimetypes
import threading
from pathlib import Path

from flask import Response, abort, render_template, request
from werkzeug.security import safe_join

# Every script, style, font and image comes from this server; no inline script, no frame.
# img-src allows data: for the small SVG icons the stylesheets carry inline.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
COMPRESSIBLE = {"text/css", "text/javascript", "application/javascript", "image/svg+xml"}
MIN_GZIP_BYTES = 1024


def page(template: str, **context) -> Response:
    """A rendered page with the headers every page carries."""
    response = Response(render_template(template, **context), mimetype="text/html")
    response.headers.update(PAGE_HEADERS)
    return response


class Asset:
    """One static file as bytes: its type, ETag and (when it pays) a gzipped copy."""

    def __init__(self, path: Path):
        self.body = path.read_bytes()
        self.mtime = path.stat().st_mtime_ns
        self.mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        self.etag = hashlib.sha256(self.body).hexdigest()[:32]
        self.gzipped = None
        if self.mimetype in COMPRESSIBLE and len(self.body) >= MIN_GZIP_BYTES:
            self.gzipped = gzip.compress(self.body, compresslevel=9, mtime=0)


class AssetFolder:
    """A folder of static files, each read and compressed once per worker process.

    The pages' libraries are large for a small VPS link (the API viewer is 1.7 MB,
    460 kB gzipped), and gunicorn may run without nginx in front; compressing once and
    keeping the bytes costs a few MB of memory and no CPU per request. A changed file
    (its mtime) is read again, so a development server needs no restart.
    """

    def __init__(self, root: Path):
        self.root = root
        self._assets: dict[str, Asset] = {}
        self._lock = threading.Lock()

    def _asset(self, filename: str) -> Asset:
        found = safe_join(str(self.root), filename)
        path = Path(found) if found else None
        if path is None or not path.is_file():
            abort(404)
        with self._lock:
            asset = self._assets.get(filename)
            if asset is None or asset.mtime != path.stat().st_mtime_ns:
                asset = self._assets[filename] = Asset(path)
        return asset

    def response(self, filename: str) -> Response:
        """The file, gzipped if the client takes it; 304 when its ETag still matches."""
        asset = self._asset(filename)
        zipped = asset.gzipped is not None and request.accept_encodings["gzip"] > 0
        response = Response(mimetype=asset.mimetype)
        response.headers.update(PAGE_HEADERS)
        response.headers["Vary"] = "Accept-Encoding"
        # Each encoding is its own representation, so each has its own strong ETag.
        response.set_etag(asset.etag + ("-gzip" if zipped else ""))
        if response.get_etag()[0] in request.if_none_match:
            response.status_code = 304
            return response
        if zipped:
            response.set_data(asset.gzipped)
            response.headers["Content-Encoding"] = "gzip"
        else:
            response.set_data(asset.body)
        return response
