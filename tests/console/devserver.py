"""Development stand-in for keygate serving its own console.

Serves GET / (console/index.html) and GET /console/<file> from the console
directory with the strict headers keygate will send, and proxies every other
request (method, headers, body; status, headers, body back) to a running
`keygate serve`. Drop it once keygate serves the console itself.

    python tests/console/devserver.py --upstream http://127.0.0.1:PORT [--port N]

Prints `devserver: listening on http://127.0.0.1:PORT` once it accepts requests.
It never logs requests, so no API key reaches a log.
"""

from __future__ import annotations

import argparse
import http.client
import re
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CONSOLE_DIR = Path(__file__).resolve().parents[2] / "console"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# One path segment, no dot files: /console/app.js, never /console/../x.
ASSET_PATH = re.compile(r"^/console/([A-Za-z0-9_-][A-Za-z0-9._-]*)$")
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "trailers", "transfer-encoding", "upgrade", "host", "content-length",
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream: urllib.parse.SplitResult
    console_dir: Path

    def version_string(self):
        return "keygate-devserver"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # never log: request lines and headers may carry a key

    def do_GET(self):
        self.route()

    def do_HEAD(self):
        self.route()

    def do_POST(self):
        self.proxy()

    def do_PUT(self):
        self.proxy()

    def do_PATCH(self):
        self.proxy()

    def do_DELETE(self):
        self.proxy()

    def do_OPTIONS(self):
        self.proxy()

    def route(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/":
            self.serve_file("index.html")
        elif path.startswith("/console/"):
            match = ASSET_PATH.match(path)
            self.serve_file(match.group(1) if match else None)
        else:
            self.proxy()

    def serve_file(self, name: str | None):
        file = self.console_dir / name if name else None
        if file is None or not file.is_file() or file.suffix not in CONTENT_TYPES:
            self.answer(404, b'{"message":"Not Found"}', {"Content-Type": "application/json"})
            return
        self.answer(200, file.read_bytes(), {"Content-Type": CONTENT_TYPES[file.suffix]})

    def answer(self, status: int, body: bytes, headers: dict[str, str]):
        self.send_response(status)
        for name, value in {**headers, **SECURITY_HEADERS}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def proxy(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        connection = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except OSError as error:
            message = f'{{"message":"devserver: upstream unreachable ({type(error).__name__})"}}'
            self.send_response(502)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(message)))
            self.end_headers()
            self.wfile.write(message.encode())
            return
        finally:
            connection.close()
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="keygate serve URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--console-dir", type=Path, default=CONSOLE_DIR)
    args = parser.parse_args()

    Handler.upstream = urllib.parse.urlsplit(args.upstream)
    Handler.console_dir = args.console_dir.resolve()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"devserver: listening on http://127.0.0.1:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
