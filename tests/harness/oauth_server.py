"""An OAuth 2.0 authorization server for the sign-in tests (Python's http.server and ssl).

usage: oauth_server.py HTTPS_PORT HTTP_PORT OUTDIR CERT KEY USER

Over HTTPS (what mailduty talks to):
  POST /token      grant_type refresh_token, client_credentials, authorization_code
                   (with PKCE S256) and the device code grant
  POST /device     device authorization (RFC 8628)
  GET  /authorize  approves at once: 302 to redirect_uri with code and state
Over plain HTTP on loopback (Dovecot and the SMTP server ask here):
  POST /introspect RFC 7662: {"active": true, "username": USER} for a live access token
  POST /control    the test's switches, JSON: lifetime (seconds an access token lives),
                   rotate (a refresh gives a new refresh token and kills the old one),
                   revoke (every refresh token dies), expire (every access token dies),
                   pending (polls answered authorization_pending before a device code
                   is approved), refuse_app (client_credentials refused)
Every token request is appended to OUTDIR/requests.jsonl (path, grant_type, the answer's
status and error). Prints "ready" once both ports listen.
"""
import base64
import hashlib
import json
import os
import secrets
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
CLIENT_SECRET = "app-secret-9f8e"


def main():
    https_port, http_port, outdir, cert, key, user = (
        int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6])
    st = {
        "lifetime": 3600, "rotate": True, "pending": 1, "refuse_app": False,
        "access": {},      # token -> expiry
        "refresh": set(),  # live refresh tokens
        "codes": {},       # code -> (challenge, redirect_uri)
        "devices": {},     # device_code -> polls left before approval
    }

    def log(entry):
        with open(os.path.join(outdir, "requests.jsonl"), "a") as f:
            f.write(json.dumps(entry) + "\n")

    def issue(with_refresh=True):
        at = "at-" + secrets.token_urlsafe(24)
        st["access"][at] = time.time() + st["lifetime"]
        out = {"access_token": at, "token_type": "Bearer", "expires_in": st["lifetime"]}
        if with_refresh:
            rt = "rt-" + secrets.token_urlsafe(24)
            st["refresh"].add(rt)
            out["refresh_token"] = rt
        return out

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, obj, headers=()):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def form(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n).decode() if n else ""
            return {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}, raw

        def do_GET(self):
            u = urllib.parse.urlparse(self.path)
            q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query).items()}
            if u.path != "/authorize":
                return self.reply(404, {"error": "not_found"})
            with LOCK:
                code = "code-" + secrets.token_urlsafe(16)
                st["codes"][code] = (q.get("code_challenge"), q.get("redirect_uri"))
                log({"path": "/authorize", "method": q.get("code_challenge_method"),
                     "scope": q.get("scope")})
            loc = q["redirect_uri"] + "?" + urllib.parse.urlencode(
                {"code": code, "state": q.get("state", "")})
            self.send_response(302)
            self.send_header("Location", loc)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self):
            f, raw = self.form()
            path = urllib.parse.urlparse(self.path).path
            with LOCK:
                if path == "/control":
                    c = json.loads(raw or "{}")
                    for k in ("lifetime", "rotate", "pending", "refuse_app"):
                        if k in c:
                            st[k] = c[k]
                    if c.get("revoke"):
                        st["refresh"].clear()
                    if c.get("expire"):
                        st["access"].clear()
                    return self.reply(200, {"ok": True})
                if path == "/introspect":
                    t = f.get("token", "")
                    live = st["access"].get(t, 0) > time.time()
                    log({"path": path, "active": live})
                    return self.reply(200, {"active": True, "username": user} if live
                                      else {"active": False})
                if path == "/device":
                    dc = "dc-" + secrets.token_urlsafe(16)
                    st["devices"][dc] = st["pending"]
                    log({"path": path, "scope": f.get("scope"), "client_id": f.get("client_id")})
                    return self.reply(200, {
                        "device_code": dc, "user_code": "WDJB-MJHT",
                        "verification_uri": "https://127.0.0.1:%d/devicelogin" % https_port,
                        "expires_in": 900, "interval": 1})
                if path != "/token":
                    return self.reply(404, {"error": "not_found"})
                g = f.get("grant_type", "")
                status, obj = 400, {"error": "unsupported_grant_type"}
                if g == "refresh_token":
                    rt = f.get("refresh_token", "")
                    if rt in st["refresh"]:
                        if st["rotate"]:
                            st["refresh"].discard(rt)
                            status, obj = 200, issue(True)
                        else:
                            status, obj = 200, issue(False)
                    else:
                        status, obj = 400, {
                            "error": "invalid_grant",
                            "error_description": "AADSTS700082: The refresh token has expired due to inactivity."}
                elif g == "client_credentials":
                    if f.get("client_secret") == CLIENT_SECRET and not st["refuse_app"]:
                        status, obj = 200, issue(False)
                    else:
                        status, obj = 401, {"error": "invalid_client",
                                            "error_description": "AADSTS7000215: Invalid client secret provided."}
                elif g == "urn:ietf:params:oauth:grant-type:device_code":
                    dc = f.get("device_code", "")
                    left = st["devices"].get(dc)
                    if left is None:
                        status, obj = 400, {"error": "expired_token"}
                    elif left > 0:
                        st["devices"][dc] = left - 1
                        status, obj = 400, {"error": "authorization_pending"}
                    else:
                        del st["devices"][dc]
                        status, obj = 200, issue(True)
                elif g == "authorization_code":
                    c = st["codes"].pop(f.get("code", ""), None)
                    verifier = f.get("code_verifier", "")
                    want = base64.urlsafe_b64encode(
                        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                    if c and c[0] == want and c[1] == f.get("redirect_uri"):
                        status, obj = 200, issue(True)
                    else:
                        status, obj = 400, {"error": "invalid_grant",
                                            "error_description": "bad code or PKCE verifier"}
                log({"path": path, "grant_type": g, "status": status,
                     "error": obj.get("error"), "client_id": f.get("client_id"),
                     "scope": f.get("scope")})
                self.reply(status, obj)

    tls = ThreadingHTTPServer(("127.0.0.1", https_port), Handler)
    tls.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    plain = ThreadingHTTPServer(("127.0.0.1", http_port), Handler)
    plain.daemon_threads = True
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    print("ready", flush=True)
    tls.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
