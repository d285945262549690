"""The headless user agent of py_client.py: plays the browser for the authorize leg of an OAuth
flow (the Python twin of browser.mjs).

It navigates like a browser (`Sec-Fetch-Mode: navigate`, `Accept: text/html`), keeps cookies
(the httpx2 client's jar), follows every redirect hop, and submits the first form of each HTML
page it lands on (login, consent) the way a user pressing its first submit button would: hidden
fields as given, text/email/password fields with their pre-filled value or `authtap`. It stops
at the first Location that points at the client's redirect URI and returns that URL. It also
accepts better-auth's JSON navigation answer (`{"redirect": true, "url": ...}`).
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

import httpx2

MAX_STEPS = 12
NAVIGATE_HEADERS = {
    "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
    "User-Agent": "authtap-peer-browser/1.0",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
}


class FirstForm(HTMLParser):
    """Collects the first <form>: action, method and the fields a submit would send."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.method = "GET"
        self.fields: list[tuple[str, str]] = []
        self.found = False
        self._inside = False
        self._submitted = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "form" and not self.found:
            self.found = self._inside = True
            self.action = a.get("action", "")
            self.method = (a.get("method") or "get").upper()
        elif self._inside and tag in ("input", "button") and a.get("name"):
            kind = a.get("type", "submit" if tag == "button" else "text").lower()
            if kind == "submit":
                if not self._submitted:
                    self.fields.append((a["name"], a.get("value", "")))
                self._submitted = True
            elif kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((a["name"], a.get("value") or "on"))
            elif kind == "hidden":
                self.fields.append((a["name"], a.get("value", "")))
            else:
                self.fields.append((a["name"], a.get("value") or "authtap"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False


def visible_text(body: str) -> str:
    """A page's visible text, for error messages (style, script and tags dropped)."""
    body = re.sub(r"<(style|script)\b.*?</\1>", " ", body, flags=re.S | re.I)
    return " ".join(re.sub(r"<[^>]*>", " ", body).split())[:300]


def is_redirect_uri(url: str, redirect_uri: str) -> bool:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" == redirect_uri


async def navigate_to_redirect(http: httpx2.AsyncClient, authorization_url: str, redirect_uri: str) -> str:
    """Walks from the authorization URL to the redirect URI; returns that final URL."""
    method, url, body, origin = "GET", authorization_url, None, None
    for _ in range(MAX_STEPS):
        headers = dict(NAVIGATE_HEADERS)
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = origin or ""
        response = await http.request(method, url, headers=headers, content=body, follow_redirects=False)
        location = response.headers.get("location")
        kind = response.headers.get("content-type", "")
        target: str | None = None
        if 300 <= response.status_code < 400 and location:
            target = urljoin(url, location)
        elif response.status_code == 200 and "application/json" in kind:
            try:
                answer = json.loads(response.text)
            except ValueError:
                answer = None
            if isinstance(answer, dict) and answer.get("redirect") is True and isinstance(answer.get("url"), str):
                target = urljoin(url, answer["url"])
        if target is not None:
            if is_redirect_uri(target, redirect_uri):
                return target
            method, url, body, origin = "GET", target, None, None
            continue
        form = FirstForm()
        if response.status_code == 200 and "text/html" in kind:
            form.feed(response.text)
        if not form.found:
            raise RuntimeError(
                f"authorize: {method} {url} answered HTTP {response.status_code} ({kind}) "
                f"with no redirect and no form: {visible_text(response.text)}"
            )
        action = urljoin(url, form.action or url)
        encoded = urlencode(form.fields)
        parts = urlsplit(url)
        if form.method == "POST":
            method, url, body, origin = "POST", action, encoded, f"{parts.scheme}://{parts.netloc}"
        else:
            method, url, body, origin = "GET", f"{action.split('?')[0]}?{encoded}", None, None
    raise RuntimeError(f"authorize: more than {MAX_STEPS} steps without reaching {redirect_uri}")
