"""Helpers for scripts/soak: a small upstream, 100 SSE clients, an RSS sampler, the trace count.

    soak.py upstream PORT SSE_SECONDS      JSON on every path, /sse streams for SSE_SECONDS then ends
    soak.py sse URL CA N                   N concurrent SSE clients; prints "streams events complete"
    soak.py rss PID OUT                    samples VmRSS (KiB) of PID once a second into OUT
    soak.py count TRACE                    prints lines, parsed lines and exchange counts by path
"""

import http.server
import json
import socketserver
import ssl
import sys
import threading
import time
import urllib.request

BODY = b'{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo","description":"soak"}]}}'


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sse_seconds = 60.0

    def log_message(self, *args):
        pass

    def _json(self):
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def do_POST(self):
        self._json()

    def do_GET(self):
        if not self.path.startswith("/sse"):
            return self._json()
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-store")
        self.send_header("connection", "close")
        self.end_headers()
        end = time.monotonic() + self.sse_seconds
        n = 0
        try:
            while time.monotonic() < end:
                n += 1
                event = {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"n": n}}
                self.wfile.write(f"id: {n}\nevent: message\ndata: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
                time.sleep(0.5)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 512


def upstream(port, sse_seconds):
    Handler.sse_seconds = float(sse_seconds)
    Server(("127.0.0.1", int(port)), Handler).serve_forever()


def sse(url, ca, n):
    ctx = ssl.create_default_context(cafile=ca) if url.startswith("https") else None
    results = []
    lock = threading.Lock()

    def client():
        events, complete = 0, False
        try:
            with urllib.request.urlopen(url, context=ctx, timeout=120) as resp:
                for line in resp:
                    if line.startswith(b"data:"):
                        events += 1
                complete = True
        except Exception as exc:  # a stream that breaks is counted, not fatal
            print(f"sse client: {exc}", file=sys.stderr)
        with lock:
            results.append((events, complete))

    threads = [threading.Thread(target=client) for _ in range(int(n))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(len(results), sum(e for e, _ in results), sum(1 for _, c in results if c))


def rss(pid, out):
    with open(out, "w") as f:
        while True:
            try:
                with open(f"/proc/{pid}/status") as s:
                    kib = next(int(l.split()[1]) for l in s if l.startswith("VmRSS:"))
            except (FileNotFoundError, StopIteration, ProcessLookupError):
                return
            f.write(f"{time.time():.1f} {kib}\n")
            f.flush()
            time.sleep(1)


def count(trace):
    lines = parsed = 0
    by_path = {}
    starts = []
    with open(trace, "rb") as f:
        for raw in f.read().split(b"\n"):
            if not raw.strip():
                continue
            lines += 1
            try:
                rec = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(rec, dict) or "type" not in rec:
                continue
            parsed += 1
            if rec["type"] == "exchange":
                path = rec["request"]["url"].split("://", 1)[-1].split("/", 1)[-1].split("?")[0]
                key = f"/{path}|{rec.get('outcome')}"
                if path.startswith("mcp"):
                    starts.append(rec["started_at"])
                by_path[key] = by_path.get(key, 0) + 1
    span = 0.0
    if starts:
        from datetime import datetime

        def parse(t):
            # RFC 3339 in UTC with up to nanoseconds; Python takes microseconds.
            head, _, frac = t[:19], None, t[19:]
            digits = frac[1:] if frac.startswith(".") else ""
            digits = digits[: len(digits) - len(digits.lstrip("0123456789"))] or "0"
            return datetime.fromisoformat(head).timestamp() + float("0." + digits)

        times = sorted(parse(t) for t in starts)
        span = times[-1] - times[0]
    print(json.dumps({"lines": lines, "parsed": parsed, "exchanges": by_path, "mcp_span_s": span}))


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    {"upstream": upstream, "sse": sse, "rss": rss, "count": count}[cmd](*args)
