#!/usr/bin/env python3
"""Headless MCP client on the official Python SDK's public client API (`mcp` on PyPI), used by
tests/it/peers_e2e.rs (authtap's end-to-end tests with real SDK peers).

Usage: tests/peers/.venv/bin/python py_client.py SERVER_URL [--tool NAME] [--args JSON]
                                                 [--timeout S] [--mode auto|legacy]

It connects over Streamable HTTP with the SDK's `OAuthClientProvider` (discovery, dynamic client
registration, PKCE) backed by in-memory storage; the authorize step is headless: peer_browser.py
navigates from the authorization URL like a browser, through the authorization server's hops and
its login and consent forms, and the code, state and RFC 9207 `iss` are read from the Location
that points at the redirect URI (the SDK checks `iss` against the issuer it discovered). Then it runs the SDK's handshake (`mode=auto`,
the SDK's default: `server/discover` first, `initialize` on servers that do not know it),
tools/list and one tools/call, and prints exactly ONE JSON line on stdout:
  {"sdk":"python","sdk_version":..,"ok":bool,"server_url":..,"handshake":"initialize"|"discover",
   "protocol_version":..,"server_info":{..},"tools":[names],
   "call":{"name","arguments","content","is_error"},"authorized":bool,
   "authorization_response":{"code","state","iss","error"},
   "http":[{"method","url","status"}],"error":{"stage","name","message","causes":[..]}}
Without --tool it calls `greet` when listed, else the first tool, filling its required string
arguments with "authtap". Exit status: 0 when the flow completed, 1 otherwise. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import secrets
import sys
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
from mcp.client import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from peer_browser import navigate_to_redirect

REDIRECT_URL = "http://127.0.0.1:53682/callback"


class MemoryStorage:
    """The SDK's `TokenStorage` protocol, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class HeadlessBrowser:
    """Plays the user agent for the authorize step: GET the URL, keep the redirect's parameters."""

    def __init__(self, http: httpx2.AsyncClient) -> None:
        self._http = http
        self._result: AuthorizationCodeResult | None = None
        self.authorized = False
        self.authorization_response: dict[str, Any] | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        """Navigates from the authorization URL (peer_browser.py: the authorization server's
        hops, login and consent forms) to the redirect URI and keeps its parameters."""
        location = await navigate_to_redirect(self._http, authorization_url, REDIRECT_URL)
        query = parse_qs(urlsplit(location).query)
        self.authorization_response = {
            "code": "code" in query,
            "state": query.get("state", [None])[0],
            "iss": query.get("iss", [None])[0],
            "error": query.get("error", [None])[0],
        }
        if "error" in query:
            raise RuntimeError(f"authorize: {query['error'][0]}: {query.get('error_description', [''])[0]}")
        if "code" not in query:
            raise RuntimeError(f"authorize: no code in redirect {location}")
        self._result = AuthorizationCodeResult(
            code=query["code"][0],
            state=query.get("state", [None])[0],
            iss=query.get("iss", [None])[0],
        )
        self.authorized = True

    async def callback_handler(self) -> AuthorizationCodeResult:
        if self._result is None:
            raise RuntimeError("authorize: the redirect handler produced no code")
        return self._result


def arguments_for(tool: Any) -> dict[str, Any]:
    schema = tool.input_schema if isinstance(getattr(tool, "input_schema", None), dict) else {}
    args: dict[str, Any] = {}
    for name in schema.get("required", []):
        kind = schema.get("properties", {}).get(name, {}).get("type")
        args[name] = 1 if kind in ("number", "integer") else True if kind == "boolean" else "authtap"
    return args


def leaf_exceptions(err: BaseException) -> list[BaseException]:
    """Unwraps anyio's exception groups down to the exceptions that actually happened."""
    if isinstance(err, BaseExceptionGroup):
        leaves: list[BaseException] = []
        for inner in err.exceptions:
            leaves.extend(leaf_exceptions(inner))
        return leaves
    return [err]


def describe_error(stage: str, err: BaseException) -> dict[str, Any]:
    leaves = leaf_exceptions(err)
    first = leaves[0]
    causes = []
    cause = first.__cause__ or first.__context__
    while cause is not None and len(causes) < 5:
        causes.append(f"{type(cause).__name__}: {cause}")
        cause = cause.__cause__ or cause.__context__
    out: dict[str, Any] = {"stage": stage, "name": type(first).__name__, "message": str(first) or repr(first)}
    if len(leaves) > 1:
        out["others"] = [f"{type(e).__name__}: {e}" for e in leaves[1:]]
    if causes:
        out["causes"] = causes
    return out


def dump(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return value


async def run(opts: argparse.Namespace, out: dict[str, Any]) -> None:
    async def on_request(request: httpx2.Request) -> None:
        out["http"].append({"method": request.method, "url": str(request.url)})

    async def on_response(response: httpx2.Response) -> None:
        for entry in reversed(out["http"]):
            if entry["url"] == str(response.request.url) and "status" not in entry:
                entry["status"] = response.status_code
                break

    hooks = {"request": [on_request], "response": [on_response]}
    timeout = httpx2.Timeout(30.0, read=60.0)
    stage = "connect"
    async with httpx2.AsyncClient(event_hooks=hooks, timeout=timeout) as browser_http:
        browser = HeadlessBrowser(browser_http)
        provider = OAuthClientProvider(
            server_url=opts.url,
            client_metadata=OAuthClientMetadata(
                client_name="authtap-peer-py",
                redirect_uris=[REDIRECT_URL],
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
                token_endpoint_auth_method="none",
            ),
            storage=MemoryStorage(),
            redirect_handler=browser.redirect_handler,
            callback_handler=browser.callback_handler,
        )
        try:
            async with httpx2.AsyncClient(auth=provider, event_hooks=hooks, timeout=timeout) as http:
                transport = streamable_http_client(opts.url, http_client=http)
                async with Client(transport, mode=opts.mode, client_info=None) as client:
                    out["authorized"] = browser.authorized
                    out["authorization_response"] = browser.authorization_response
                    session = client.session
                    out["handshake"] = "discover" if getattr(session, "discover_result", None) else "initialize"
                    out["protocol_version"] = client.protocol_version
                    out["server_info"] = dump(client.server_info)

                    stage = "tools/list"
                    listed = await client.list_tools()
                    out["tools"] = [t.name for t in listed.tools]

                    stage = "tools/call"
                    if opts.tool:
                        tool = next((t for t in listed.tools if t.name == opts.tool), None)
                    else:
                        tool = next((t for t in listed.tools if t.name == "greet"), None) or (
                            listed.tools[0] if listed.tools else None
                        )
                    if tool is None:
                        raise RuntimeError(f"no tool to call (wanted {opts.tool or 'any'}; listed {out['tools']})")
                    args = json.loads(opts.args) if opts.args else arguments_for(tool)
                    result = await client.call_tool(tool.name, args)
                    out["call"] = {
                        "name": tool.name,
                        "arguments": args,
                        "content": [dump(c) for c in getattr(result, "content", [])],
                        "is_error": bool(getattr(result, "is_error", False)),
                    }
                    out["ok"] = True
                    stage = "close"
        except BaseException as err:  # noqa: BLE001 - reported, never swallowed silently
            if isinstance(err, (KeyboardInterrupt, SystemExit)):
                raise
            if not out["ok"]:
                out["authorized"] = browser.authorized
                out["authorization_response"] = browser.authorization_response
                out["error"] = describe_error(stage, err)


async def main_async(opts: argparse.Namespace, out: dict[str, Any]) -> None:
    with anyio.move_on_after(opts.timeout) as scope:
        await run(opts, out)
    if scope.cancelled_caught and not out["ok"]:
        out["error"] = {"stage": "timeout", "name": "TimeoutError", "message": f"driver timed out after {opts.timeout} s"}


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--tool")
    parser.add_argument("--args")
    parser.add_argument("--timeout", type=float, default=45.0)
    parser.add_argument("--mode", default="auto")
    opts = parser.parse_args()
    out: dict[str, Any] = {
        "sdk": "python",
        "sdk_version": importlib.metadata.version("mcp"),
        "ok": False,
        "server_url": opts.url,
        "authorized": False,
        "http": [],
    }
    try:
        anyio.run(main_async, opts, out)
    except Exception as err:  # noqa: BLE001
        out["error"] = describe_error("driver", err)
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
