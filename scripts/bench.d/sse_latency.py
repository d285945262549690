#!/usr/bin/env python3
"""Per-event SSE delivery latency: an upstream that stamps each event with its send time, and a
client that measures arrival minus send time, direct and through a proxy. Stdlib only.

usage: sse_latency.py serve PORT
       sse_latency.py measure URL [CAFILE]   -> prints p50 p99 mean in microseconds
"""
import http.client, http.server, socketserver, ssl, statistics, sys, time, urllib.parse

EVENTS = 300

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for _ in range(EVENTS):
            ev = f"data: {time.time_ns()}\n\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(ev), ev))
            self.wfile.flush()
            time.sleep(0.005)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

def serve(port):
    class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
    S(("127.0.0.1", port), Handler).serve_forever()

def measure(url, cafile=None):
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=cafile)
        conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port)
    conn.request("GET", u.path or "/")
    resp = conn.getresponse()
    lat = []
    while True:
        line = resp.fp.readline() if False else resp.readline()
        if not line:
            break
        if line.startswith(b"data: "):
            lat.append((time.time_ns() - int(line[6:].strip())) / 1000)
    lat.sort()
    print(f"{statistics.median(lat):.0f} {lat[int(len(lat) * 0.99) - 1]:.0f} {statistics.mean(lat):.0f} {len(lat)}")

if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    else:
        measure(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
