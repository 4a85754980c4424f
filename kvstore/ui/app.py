"""The ASGI app of ``kvstore ui``: the page, its assets and a JSON API over an asyncio store.

``create_app(store, token=...)`` builds it (Starlette); ``kvstore.ui.server`` serves it
with uvicorn on 127.0.0.1. Routes:

- ``GET /`` the page (``static/index.html``), ``GET /static/app.js`` / ``style.css``;
- ``GET /api/info``, ``/api/tree?prefix=&start=``, ``/api/key?key=``,
  ``/api/history?key=&before=``, ``/api/leases``, ``/api/recipes?prefix=`` (``prefix``:
  the name of an etcd-layout lock to list too), ``/api/cluster`` (JSON, see
  ``kvstore.ui.views``);
- ``GET /api/watch?prefix=&from=`` a server-sent event stream of the changes under a
  prefix (one ``change`` event per watch event), fed by the store's asyncio watch;
- ``POST /api/put`` (``{"key", "value"}``), ``/api/delete`` (``{"key"}``),
  ``/api/delete-prefix`` (``{"prefix", "confirm"}``, where ``confirm`` must repeat the
  prefix): only with ``write=True``, else 403.

Access: every request needs the token, given once as ``?token=...`` (the first visit
sets a cookie, ``HttpOnly`` and ``SameSite=Strict``, and redirects to the URL without the
token) and then by that cookie; a request without it, or with a wrong one, gets 403, as
does a request whose ``Host`` is not the loopback address the server listens on (DNS
rebinding) or a write whose ``Origin`` is another site. Responses forbid framing and
inline scripts (``Content-Security-Policy``) and are never cached.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import kvstore.ui.views as views
from kvstore._async.base import AsyncBaseStore
from kvstore.cli.urls import redact_url
from kvstore.errors import (
    InvalidArgumentError,
    KeyNotFoundError,
    KVStoreError,
    UnavailableError,
)
from kvstore.ui.views import ValueCodec
from kvstore.wrappers.encryption import Keyring

__all__ = ["COOKIE_PREFIX", "HEARTBEAT_SECONDS", "SECURITY_HEADERS", "create_app", "new_token"]

COOKIE_PREFIX = "kvstore-ui-"
"""The token cookie is named this plus the port (cookies do not tell ports apart)."""

HEARTBEAT_SECONDS = 15.0
"""A comment line is sent on an idle event stream this often, to notice a gone client."""

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
"""Sent with every response: no inline script can run, no framing, no token in Referer."""

_ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
}

_LOOPBACK_HOSTS = ("127.0.0.1", "localhost")

_FORBIDDEN = (
    "403 Forbidden: this kvstore ui needs its token; open the URL that `kvstore ui` printed "
    "(http://127.0.0.1:PORT/?token=...)\n"
)


def new_token() -> str:
    """A random token for the page's URL (32 bytes of randomness, URL-safe)."""
    return secrets.token_urlsafe(32)


def _asset(name: str) -> bytes:
    return importlib.resources.files("kvstore.ui").joinpath("static").joinpath(name).read_bytes()


class _TokenGate:
    """ASGI middleware: 403 unless the request carries the token (query or cookie).

    A valid ``?token=`` on ``GET /`` sets the cookie and redirects to ``/``, so the token
    leaves the address bar (and the history) at once.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    def _matches(self, given: str | None) -> bool:
        return given is not None and secrets.compare_digest(given.encode(), self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        port = scope["server"][1] if scope.get("server") else 0
        cookie_name = f"{COOKIE_PREFIX}{port}"
        host = headers.get("host", "")
        if host.rsplit(":", 1)[0] not in _LOOPBACK_HOSTS:
            await _plain(send, 403, "403 Forbidden: unknown Host\n")
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        from_query = query.get("token", [None])[-1]
        cookies = SimpleCookie()
        with contextlib.suppress(Exception):
            cookies.load(headers.get("cookie", ""))
        from_cookie = cookies[cookie_name].value if cookie_name in cookies else None
        if self._matches(from_query) and scope["path"] == "/" and scope["method"] == "GET":
            await _redirect_with_cookie(send, cookie_name, self.token.decode())
            return
        if not (self._matches(from_query) or self._matches(from_cookie)):
            await _plain(send, 403, _FORBIDDEN)
            return
        if scope["method"] not in ("GET", "HEAD"):
            origin = headers.get("origin")
            if origin is not None and origin != f"http://{host}":
                await _plain(send, 403, "403 Forbidden: cross-site request\n")
                return
        await self.app(scope, receive, send)


def _header_list(extra: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode(), v.encode()) for k, v in {**SECURITY_HEADERS, **extra}.items()]


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers = {"content-type": "text/plain; charset=utf-8", "content-length": str(len(body))}
    await send({"type": "http.response.start", "status": status, "headers": _header_list(headers)})
    await send({"type": "http.response.body", "body": body})


async def _redirect_with_cookie(send: Send, name: str, token: str) -> None:
    cookie = f"{name}={token}; Path=/; HttpOnly; SameSite=Strict"
    headers = {"location": "/", "set-cookie": cookie, "content-length": "0"}
    await send({"type": "http.response.start", "status": 303, "headers": _header_list(headers)})
    await send({"type": "http.response.body", "body": b""})


class _SecurityHeaders:
    """ASGI middleware: ``SECURITY_HEADERS`` on every response of the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [
                    (name.encode(), value.encode())
                    for name, value in SECURITY_HEADERS.items()
                    if name.encode() not in present
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _status_of(error: KVStoreError) -> int:
    if isinstance(error, KeyNotFoundError):
        return 404
    if isinstance(error, InvalidArgumentError):
        return 400
    if isinstance(error, UnavailableError):
        return 503
    return 409


Endpoint = Callable[[Request], Awaitable[Response]]


def _json_errors(endpoint: Endpoint) -> Endpoint:
    """Answer a ``KVStoreError`` as ``{"error": message}`` with a fitting status."""

    async def wrapped(request: Request) -> Response:
        try:
            return await endpoint(request)
        except KVStoreError as exc:
            return _error(_status_of(exc), str(exc))

    return wrapped


def _int_param(request: Request, name: str) -> int | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidArgumentError(f"ui: ?{name}= must be an integer, not {text!r}") from None


def create_app(
    store: AsyncBaseStore,
    *,
    token: str,
    write: bool = False,
    keyring: Keyring | None = None,
    compress: bool = False,
    prefix: str = "",
    url: str | None = None,
) -> Starlette:
    """The ``kvstore ui`` ASGI app over ``store``.

    The app never closes ``store``: its owner does, after the server stopped.

    Args:
        store: The asyncio store to show, unencrypted (give the keys as ``keyring``:
            the page then shows encrypted values decrypted and still shows those it
            cannot decrypt, with their key id).
        token: The secret every request must carry (``new_token()``).
        write: Allow puts and deletes (else the write endpoints answer 403).
        keyring: The encryption keys: values are decrypted to show, encrypted to write.
        compress: Values are compressed (``?compress=1``): decompressed to show,
            compressed to write.
        prefix: The prefix the key tree opens at (the URL's ``?namespace=``).
        url: The store's URL, shown (redacted) in the page's header.

    Returns:
        The Starlette app.

    Raises:
        InvalidArgumentError: ``token`` is empty.
    """
    if not isinstance(token, str) or not token:
        raise InvalidArgumentError("ui: the token must be a non-empty str")
    codec = ValueCodec(store, keyring=keyring, compress=compress)
    assets = {path: (_asset(name), kind) for path, (name, kind) in _ASSETS.items()}

    async def asset(request: Request) -> Response:
        body, kind = assets[request.url.path]
        return Response(body, media_type=kind)

    async def info(request: Request) -> Response:
        return JSONResponse(
            {
                "url": redact_url(url) if url else type(store).__name__,
                "backend": type(store).__name__,
                "write": write,
                "keys": keyring is not None,
                "prefix": prefix,
                "capabilities": sorted(store.capabilities),
            }
        )

    async def tree(request: Request) -> Response:
        limit = _int_param(request, "limit") or views.DEFAULT_TREE_PAGE
        page = await views.tree_page(
            store,
            request.query_params.get("prefix", ""),
            start=request.query_params.get("start") or None,
            limit=limit,
        )
        return JSONResponse(page)

    async def key(request: Request) -> Response:
        name = request.query_params.get("key", "")
        detail = await views.key_detail(store, codec, name)
        if detail is None:
            return _error(404, f"key {name!r} not found")
        return JSONResponse(detail)

    async def history(request: Request) -> Response:
        found = await views.key_history(
            store,
            codec,
            request.query_params.get("key", ""),
            before=_int_param(request, "before"),
            limit=_int_param(request, "limit") or views.DEFAULT_HISTORY_PAGE,
        )
        return JSONResponse(found)

    async def leases(request: Request) -> Response:
        return JSONResponse(await views.leases(store))

    async def recipes(request: Request) -> Response:
        etcd_lock = request.query_params.get("prefix") or None
        return JSONResponse(await views.held_recipes(store, codec, etcd_lock=etcd_lock))

    async def cluster(request: Request) -> Response:
        return JSONResponse(await views.cluster_info(store))

    async def watch(request: Request) -> Response:
        watched = request.query_params.get("prefix", "")
        start = _int_param(request, "from")
        last_seen = request.headers.get("last-event-id", "")
        if last_seen.isdigit():  # a reconnecting EventSource: go on after what it got
            start = int(last_seen) + 1
        stream = store.watch_prefix(watched, start_revision=start)

        async def events() -> AsyncIterator[str]:
            try:
                yield "retry: 2000\n: watching\n\n"
                while True:
                    event = await stream.next_event(timeout=HEARTBEAT_SECONDS)
                    if event is None:
                        if stream.cancelled:  # the store closed: nothing more will come
                            return
                        yield ": idle\n\n"
                        continue
                    data = json.dumps(views.event_json(codec, event))
                    yield f"event: change\nid: {event.revision}\ndata: {data}\n\n"
            except KVStoreError as exc:
                yield f"event: failure\ndata: {json.dumps({'error': str(exc)})}\n\n"
            finally:
                with contextlib.suppress(KVStoreError, asyncio.CancelledError):
                    await stream.cancel()

        return StreamingResponse(events(), media_type="text/event-stream")

    async def body_of(request: Request) -> dict[str, Any]:
        if not write:
            raise _Refused(403, "read-only: start `kvstore ui` with --write to change the store")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise _Refused(415, "send the request as application/json")
        try:
            body = await request.json()
        except ValueError:
            raise _Refused(400, "the request body is not JSON") from None
        if not isinstance(body, dict):
            raise _Refused(400, "the request body must be a JSON object")
        return body

    def text_field(body: dict[str, Any], name: str) -> str:
        value = body.get(name)
        if not isinstance(value, str):
            raise _Refused(400, f"{name!r} must be a string")
        return value

    async def put(request: Request) -> Response:
        body = await body_of(request)
        name, value = text_field(body, "key"), text_field(body, "value")
        current = (await store.kv_range(name)).kvs if name else ()
        if current and codec.is_encrypted_without_keys(current[0].value):
            raise _Refused(
                409, f"the value of {name!r} is encrypted: start with --key-file to change it"
            )
        revision = await codec.writer.put(name, value.encode("utf-8"))
        return JSONResponse({"key": name, "revision": revision})

    async def delete(request: Request) -> Response:
        body = await body_of(request)
        name = text_field(body, "key")
        deleted = await store.delete(name)
        return JSONResponse({"key": name, "deleted": deleted})

    async def delete_prefix(request: Request) -> Response:
        body = await body_of(request)
        doomed, confirm = text_field(body, "prefix"), text_field(body, "confirm")
        if not doomed:
            raise _Refused(400, "the prefix is empty: the UI never deletes every key")
        if confirm != doomed:
            raise _Refused(400, "type the prefix again to confirm the delete")
        deleted = await store.delete_prefix(doomed)
        return JSONResponse({"prefix": doomed, "deleted": deleted})

    def guarded(endpoint: Endpoint) -> Endpoint:
        json_endpoint = _json_errors(endpoint)

        async def wrapped(request: Request) -> Response:
            try:
                return await json_endpoint(request)
            except _Refused as exc:
                return _error(exc.status, exc.message)

        return wrapped

    routes = [
        *(Route(path, asset, methods=["GET"]) for path in _ASSETS),
        Route("/api/info", guarded(info), methods=["GET"]),
        Route("/api/tree", guarded(tree), methods=["GET"]),
        Route("/api/key", guarded(key), methods=["GET"]),
        Route("/api/history", guarded(history), methods=["GET"]),
        Route("/api/leases", guarded(leases), methods=["GET"]),
        Route("/api/recipes", guarded(recipes), methods=["GET"]),
        Route("/api/cluster", guarded(cluster), methods=["GET"]),
        Route("/api/watch", guarded(watch), methods=["GET"]),
        Route("/api/put", guarded(put), methods=["POST"]),
        Route("/api/delete", guarded(delete), methods=["POST"]),
        Route("/api/delete-prefix", guarded(delete_prefix), methods=["POST"]),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(_TokenGate, token=token), Middleware(_SecurityHeaders)],
    )


class _Refused(Exception):
    """A request the UI refuses, answered ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
