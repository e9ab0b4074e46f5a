"""A real HTTPS server for the notification tests (Python's http.server and ssl).

usage: https_server.py PORT OUTDIR CERT KEY

Every request is appended to OUTDIR/requests.jsonl as one JSON line (method, path,
headers, body, the status answered). How it answers is read from OUTDIR/mode.json on
each request: {"status": 200, "delay": 0.0} by default; with a delay it waits that
many seconds before answering (a server too slow for the client's timeout). Prints
"ready" once listening.
"""
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()


def main():
    port, outdir, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            try:
                with open(os.path.join(outdir, "mode.json")) as f:
                    mode = json.load(f)
            except (OSError, ValueError):
                mode = {}
            status = int(mode.get("status", 200))
            delay = float(mode.get("delay", 0))
            with LOCK:
                with open(os.path.join(outdir, "requests.jsonl"), "a") as f:
                    f.write(json.dumps({
                        "method": self.command,
                        "path": self.path,
                        "headers": [[k, v] for k, v in self.headers.items()],
                        "body": body.decode("utf-8", "replace"),
                        "status": status,
                        "delay": delay,
                    }, ensure_ascii=False) + "\n")
            if delay:
                time.sleep(delay)
            answer = b"ok" if status < 300 else b"error from the test server"
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass

    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
