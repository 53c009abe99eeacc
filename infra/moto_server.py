"""moto's server, one request at a time: DynamoDB's isolation for tests.

Usage: moto_server.py HOST PORT

moto's own `moto_server` handles requests on many threads, and its
TransactWriteItems is not isolated: it checks and applies the items one by
one and, when one fails, restores a snapshot of the whole table taken at the
start, undoing whatever other requests wrote meanwhile. DynamoDB runs each
transaction (and each single-item write) atomically and in isolation. Holding
one lock around each request gives the tests that guarantee, so a race the
tests provoke is one DynamoDB could produce. Connections are still served on
their own threads, so none waits on another's idle keep-alive.
"""

import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def serialized(app):
    lock = threading.Lock()

    def handle(environ, start_response):
        with lock:
            body = app(environ, start_response)
            try:
                return [b"".join(body)]
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()

    return handle


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        host,
        port,
        serialized(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
