"""Serve moto's Secrets Manager API on 127.0.0.1 for secretfd's integration tests.

The Rust test support (tests/support/mod.rs) starts this script with a pipe
on stdin and reads one line from stdout: the TCP port, chosen by the kernel.
The script then blocks reading stdin. When the test process exits, for any
reason, the kernel closes the pipe, the read returns EOF, and the server shuts
down, so moto never outlives the tests that started it.

Besides moto's own API, a small WSGI middleware serves:

    GET  /_harness/requests   JSON list of the requests received, in order
    POST /_harness/reset      clear that list

Each entry is the request's X-Amz-Target header, such as
"secretsmanager.BatchGetSecretValue", or "METHOD PATH" for a request
without one, so that an unexpected call still shows up.

Usage: moto_harness.py [--one-thread]

By default each connection gets its own thread, as the tests need (the
load test opens 200 at once). With --one-thread, which scripts/bench uses,
one thread serves the requests one after another. moto runs largely one
request at a time either way, because its threads share one interpreter
lock. A single thread saves the lock hand-offs between them. A
100-secret secretfd run took 1.7 to 2.4 ms less than with a thread per
connection (docs/benchmarks.md).

With one thread, werkzeug responds with HTTP/1.0 and closes each connection
after its response. The thread then waits, up to 10 ms, for the client to
close its end before it takes the next connection. secretfd closes at
once: strace shows its shutdown() right after it reads the response.
"""

import json
import os
import sys
import threading

# The only option, checked before the slow moto import below. A script that
# imports this module keeps its own arguments.
ONE_THREAD = __name__ == "__main__" and sys.argv[1:] == ["--one-thread"]
if __name__ == "__main__" and sys.argv[1:] and not ONE_THREAD:
    sys.stderr.write(f"moto_harness: invalid arguments {sys.argv[1:]}. The only option is --one-thread.\n")
    sys.exit(2)

# Network safety: moto and anything it imports see fake static credentials, no
# instance metadata and a loopback endpoint where nothing listens (port 9),
# whatever the environment this script inherited. Every inherited AWS_*
# setting, such as a profile, an SSO session or an endpoint, is dropped first.
# This must happen before moto is imported.
for _name in [name for name in os.environ if name.startswith("AWS_")]:
    del os.environ[_name]
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
)

try:
    from moto.server import create_backend_app
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server
    from werkzeug.test import Client
except ImportError as error:
    sys.stderr.write(
        f"moto_harness: cannot import moto ({error}).\n"
        "  Run scripts/test, which installs moto[server] into .venv-test.\n"
    )
    sys.exit(3)

HOST = "127.0.0.1"
REQUESTS_PATH = "/_harness/requests"
RESET_PATH = "/_harness/reset"


class RequestLog:
    """Thread-safe list of the requests that reached moto, in arrival order."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries = []

    def append(self, entry):
        with self._lock:
            self._entries.append(entry)

    def snapshot(self):
        with self._lock:
            return list(self._entries)

    def clear(self):
        with self._lock:
            self._entries.clear()


class HarnessMiddleware:
    """WSGI middleware that records each request, then passes it to moto."""

    def __init__(self, app, log):
        self.app = app
        self.log = log

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "")
        path = environ.get("PATH_INFO", "")

        if path == REQUESTS_PATH and method == "GET":
            return self._reply(start_response, self.log.snapshot())
        if path == RESET_PATH and method == "POST":
            self.log.clear()
            return self._reply(start_response, [])

        target = environ.get("HTTP_X_AMZ_TARGET")
        self.log.append(target if target else f"{method} {path}")
        return self.app(environ, start_response)

    @staticmethod
    def _reply(start_response, value):
        body = json.dumps(value).encode()
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]


class QuietRequestHandler(MotoRequestHandler):
    """Moto's request handler without werkzeug's one-line log per request.

    Errors and tracebacks are still written to stderr.
    """

    def log_request(self, code="-", size="-"):
        pass


def warm_up(moto_app):
    """Load moto's Secrets Manager backend before the first test request.

    The first request to a backend imports and builds it, which takes a second
    or more. Doing it here keeps that delay out of tests with short timeouts.
    The call goes straight to moto, so it is not in the request log.
    """
    response = Client(moto_app).post(
        "/",
        data="{}",
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "secretsmanager.ListSecrets",
            "Authorization": (
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/"
                "secretsmanager/aws4_request, SignedHeaders=host, Signature=0"
            ),
        },
    )
    if response.status_code != 200:
        sys.stderr.write(
            f"moto_harness: warm-up ListSecrets returned {response.status_code}: "
            f"{response.get_data(as_text=True)}\n"
        )
        sys.exit(1)


def main():
    # Moto's application for Secrets Manager alone. Moto's all-service
    # dispatcher would first work out the service from each request's Host
    # and Authorization headers, which took a quarter of the time of a
    # BatchGetSecretValue call (3.0 ms against 2.3 ms, 20 secrets).
    moto_app = create_backend_app("secretsmanager")
    warm_up(moto_app)

    # Port 0: the kernel picks a free port, so parallel test binaries never
    # collide. The socket is listening when make_server returns, so the test
    # process may connect as soon as it reads the port.
    server = make_server(
        HOST,
        0,
        HarnessMiddleware(moto_app, RequestLog()),
        threaded=not ONE_THREAD,
        request_handler=QuietRequestHandler,
    )
    serve_thread = threading.Thread(target=server.serve_forever, daemon=True)
    serve_thread.start()

    sys.stdout.write(f"{server.server_port}\n")
    sys.stdout.flush()
    # The test process stops reading stdout after the port line. Anything moto
    # prints later goes to stderr, so it cannot fill or break that pipe.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    # Block until the test process closes our stdin, by exiting or on purpose.
    while sys.stdin.buffer.read(4096):
        pass

    server.shutdown()
    serve_thread.join()
    server.server_close()


if __name__ == "__main__":
    main()
