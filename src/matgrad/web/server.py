"""The HTTP server of ``matgrad serve`` (layer 7), on the standard library alone.

``GET /`` is the page, ``GET /static/...`` its vendored files (KaTeX and its
fonts, the script and the style sheet; nothing is fetched from another host),
``POST /api/parse``, ``/api/derive`` and ``/api/check`` the JSON API of
:mod:`matgrad.web.api`, ``GET /api`` a short description of it.

Limits: a body of at most :data:`MAX_BODY` bytes (413 past it, 411 without a
``Content-Length``), formulas of at most :data:`~matgrad.web.api.MAX_FORMULA`
characters; ``parse`` runs in the request's thread (the parser is bounded:
iterative passes, a length and depth limit), ``derive`` and ``check`` in the
worker processes of :class:`~matgrad.web.pool.Pool` under a time limit.  Bad
input is a 4xx answer with a JSON message, never a traceback.  Bound to a
loopback address, the server answers only requests whose ``Host`` names a
loopback host (a web page elsewhere cannot reach it through DNS rebinding).
Answers of ``derive`` and ``check`` are cached (the inputs are drawn from the
request's seed, so an answer is a function of the request).
"""

from __future__ import annotations

import ipaddress
import json
import signal
import sys
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from matgrad.web.api import CALLS, FIELDS, BadRequest, Request, answer, error_body, read_request
from matgrad.web.pool import Pool

MAX_BODY = 64 * 1024
"""Bytes of a request body."""
CACHE_SIZE = 512
"""Answers kept."""
DEFAULT_PORT = 8765

_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8", ".woff2": "font/woff2", ".png": "image/png",
    ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8", "": "text/plain; charset=utf-8",
}
_CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'"
)


def static_files() -> dict[str, bytes]:
    """The vendored files the server serves, by path under ``/static/``."""
    files: dict[str, bytes] = {}
    root = resources.files("matgrad.web") / "static"

    def walk(node: Any, prefix: str) -> None:
        for entry in node.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
            elif not entry.name.startswith("."):
                files[prefix + entry.name] = entry.read_bytes()

    walk(root, "")
    return files


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine only.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str) -> str:
    """What ``matgrad serve`` says when bound to a host other than loopback ("" for
    loopback)."""
    if is_loopback(host):
        return ""
    return (
        f"warning: listening on {host}, reachable from other machines. matgrad serve has no "
        "authentication; anyone who can reach this port can use its CPU. Bind to 127.0.0.1 "
        "(the default) unless you mean it."
    )


class Cache:
    """The last :data:`CACHE_SIZE` answers, by request (thread-safe)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._data: OrderedDict[Request, tuple[int, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, req: Request) -> tuple[int, dict[str, Any]] | None:
        with self._lock:
            hit = self._data.get(req)
            if hit is not None:
                self._data.move_to_end(req)
            return hit

    def put(self, req: Request, result: tuple[int, dict[str, Any]]) -> None:
        with self._lock:
            self._data[req] = result
            while len(self._data) > self.size:
                self._data.popitem(last=False)


class Server(ThreadingHTTPServer):
    """A threading HTTP server with the page, the API, the worker pool and the cache."""

    daemon_threads = True
    request_queue_size = 128  # 50 clients connecting at once must not be dropped

    def __init__(self, host: str, port: int, pool: Pool, *, verbose: bool = False) -> None:
        super().__init__((host, port), Handler)
        self.pool, self.verbose = pool, verbose
        self.cache = Cache()
        self.files = static_files()
        self.loopback = is_loopback(host)

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), self.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def compute(self, req: Request) -> tuple[int, dict[str, Any]]:
        if req.call == "parse":  # bounded, fast: in the request's thread
            return answer(req)
        hit = self.cache.get(req)
        if hit is not None:
            return hit
        result = self.pool.run(req)
        status, body = result
        if status == 200 or (status == 422 and body["error"]["kind"] != "TooLarge"):
            self.cache.put(req, result)
        return result

    def server_close(self) -> None:
        super().server_close()
        self.pool.close()


def api_description() -> dict[str, Any]:
    """The answer to ``GET /api``."""
    return {
        "calls": {
            name: {"method": "POST", "path": f"/api/{name}", "fields": list(FIELDS[name])}
            for name in CALLS
        },
        "limits": {"body_bytes": MAX_BODY, **_limits()},
        "documentation": "docs/web.md",
    }


def _limits() -> dict[str, int]:
    from matgrad.web import api

    return {
        "formula_chars": api.MAX_FORMULA, "order": api.MAX_ORDER,
        "dimension": api.MAX_DIMENSION, "checked_entries": api.MAX_CHECKED,
        "evaluated_entries": api.MAX_EVALUATED, "heatmap_entries": api.MAX_HEATMAP,
    }


class Handler(BaseHTTPRequestHandler):
    """One connection's requests."""

    server: Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart
    _consumed = False  # whether the request's body was read
    server_version = "matgrad-serve"
    timeout = 30  # seconds a client may take to send its request

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        unread = self.headers.get("Content-Length", "0") != "0" and not self._consumed
        if unread or self.headers.get("Transfer-Encoding"):  # its body would come next
            self.close_connection = True
        self.send_response(status)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        # answers are never stored; the page's files are revalidated (a new matgrad
        # version must not run with the script of the old one)
        self.send_header("Cache-Control", "no-store" if content_type.startswith(
            "application/json") else "no-cache")
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: object, **headers: str) -> None:
        body = json.dumps(data, ensure_ascii=False, allow_nan=False).encode()
        self._send(status, body, "application/json; charset=utf-8", **headers)

    def _fail(self, status: int, kind: str, message: str, **headers: str) -> None:
        self._json(status, error_body(kind, message), **headers)

    def _host_ok(self) -> bool:
        if not self.server.loopback:
            return True
        host = (self.headers.get("Host") or "").rpartition(":")[0] or self.headers.get("Host", "")
        if is_loopback(host):
            return True
        self._fail(403, "Forbidden", "this server answers requests for a loopback host only")
        return False

    def _guarded(self, work: Callable[[], None]) -> None:
        self._consumed = False
        try:
            if self._host_ok():
                work()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:  # a bug: log it here, answer without a traceback
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            self._fail(500, "InternalError", "the server failed on this request")

    def do_GET(self) -> None:
        self._guarded(self._get)

    def do_HEAD(self) -> None:
        self._guarded(self._get)

    def do_POST(self) -> None:
        self._guarded(self._post)

    def _other(self) -> None:
        self._guarded(lambda: self._fail(405, "MethodNotAllowed", "use GET or POST",
                                         Allow="GET, HEAD, POST"))

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other

    def _get(self) -> None:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path in ("/", "/index.html"):
            self._send(200, self.server.files["index.html"], _TYPES[".html"],
                       Content_Security_Policy=_CSP)
        elif path == "/api":
            self._json(200, api_description())
        elif path.startswith("/static/") and path[8:] in self.server.files:
            name = path[8:]
            suffix = name[name.rfind("."):] if "." in name else ""
            self._send(200, self.server.files[name], _TYPES.get(suffix, _TYPES[""]))
        elif path.startswith("/api/") and path[5:] in CALLS:
            self._fail(405, "MethodNotAllowed", f"{path} takes POST with a JSON body",
                       Allow="POST")
        else:
            self._fail(404, "NotFound", f"no such page: {path[:100]}")

    def _read_body(self) -> bytes | None:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding") or length is None or not length.isdigit():
            self._fail(411, "LengthRequired", "send the body with a Content-Length")
            return None
        if int(length) > MAX_BODY:  # not read: the connection is closed after the answer
            self._fail(413, "TooLarge", f"the body has {length} bytes; at most {MAX_BODY}")
            return None
        self._consumed = True
        return self.rfile.read(int(length))

    def _post(self) -> None:
        path = self.path.split("?", 1)[0]
        if not path.startswith("/api/"):
            self._fail(404, "NotFound", f"no such call: {path[:100]}")
            return
        raw = self._read_body()
        if raw is None:
            return
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            self._fail(400, "BadRequest", f"the body is not JSON: {err}")
            return
        try:
            req = read_request(path[5:], data)
        except BadRequest as err:
            self._fail(err.status, "BadRequest" if err.status != 404 else "NotFound", str(err))
            return
        status, body = self.server.compute(req)
        self._json(status, body)


def make_server(
    host: str = "127.0.0.1", port: int = 0, *, workers: int = 2, time_limit: float = 10.0,
    verbose: bool = False,
) -> Server:
    """A :class:`Server` bound to ``host:port`` (0: a free port) with its worker pool
    started; call ``serve_forever()`` on it (in a thread, or the main one)."""
    pool = Pool(workers, time_limit)
    try:
        return Server(host, port, pool, verbose=verbose)
    except BaseException:
        pool.close()
        raise


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(
    host: str = "127.0.0.1", port: int | None = None, *, open_browser: bool = False,
    workers: int = 2, time_limit: float = 10.0, verbose: bool = False,
    say: Callable[[str], None] = print, warn: Callable[[str], None] | None = None,
) -> int:
    """Run ``matgrad serve`` until interrupted: bind ``host:port`` (``None``: port
    :data:`DEFAULT_PORT`, or a free one when that is taken), print the URL, and
    open it in the browser when asked.  Returns the exit code."""
    warn = warn or (lambda text: print(text, file=sys.stderr))
    message = exposure_warning(host)
    if message:
        warn(message)
    try:
        server = make_server(
            host, DEFAULT_PORT if port is None else port, workers=workers,
            time_limit=time_limit, verbose=verbose,
        )
    except OSError as err:
        if port is not None:
            warn(f"matgrad serve: cannot listen on {host}:{port}: {err.strerror or err}")
            return 2
        server = make_server(host, 0, workers=workers, time_limit=time_limit, verbose=verbose)
    say(f"matgrad serve: {server.url}  ({workers} worker(s), {time_limit:g} s per derivation; "
        "Ctrl-C stops)")
    if threading.current_thread() is threading.main_thread():  # `kill` stops it as Ctrl-C does
        signal.signal(signal.SIGTERM, _interrupt)
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started in the background
            signal.signal(signal.SIGINT, _interrupt)
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        say("matgrad serve: stopped")
    finally:
        server.server_close()
    return 0
