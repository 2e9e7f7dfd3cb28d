"""Serve canned Secrets Manager values on 127.0.0.1, for scripts/bench.

moto handles one request at a time (its Python threads share one
interpreter lock): five concurrent 20-secret batch requests took 12.5 ms on
the benchmark machine, one took 1.9 to 2.6 ms. This server does almost no
work per request, so timing secretfd against it shows how secretfd's own
time grows with the number of secrets.

It replies to GetSecretValue and BatchGetSecretValue (by SecretIdList) with
the value "canned-<id>" for every id, and to anything else with a 400 error.
It prints its port on stdout, then serves until its stdin reaches end of file.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = "127.0.0.1"


def entry(secret_id):
    return {
        "ARN": f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{secret_id}-AbCdEf",
        "Name": secret_id,
        "VersionId": "00000000-0000-0000-0000-000000000001",
        "VersionStages": ["AWSCURRENT"],
        "SecretString": f"canned-{secret_id}",
        "CreatedDate": 1700000000.0,
    }


class CannedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        target = self.headers.get("X-Amz-Target", "")
        if target == "secretsmanager.GetSecretValue":
            self.reply(200, entry(body["SecretId"]))
        elif target == "secretsmanager.BatchGetSecretValue":
            values = [entry(secret_id) for secret_id in body.get("SecretIdList", [])]
            self.reply(200, {"SecretValues": values, "Errors": []})
        else:
            sys.stderr.write(f"bench-canned-server: no canned reply for {target!r}\n")
            self.reply(400, {"__type": "InvalidRequestException", "message": f"not canned: {target}"})

    def reply(self, status, value):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass


def main():
    server = ThreadingHTTPServer((HOST, 0), CannedHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdout.write(f"{server.server_port}\n")
    sys.stdout.flush()
    while sys.stdin.buffer.read(4096):
        pass
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
