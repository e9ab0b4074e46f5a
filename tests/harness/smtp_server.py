"""A real SMTP server for the digest tests (Debian's python3-aiosmtpd).

usage: smtp_server.py PORT OUTDIR [--cert CRT --key KEY] [--user U --password P]
                      [--introspect URL]

Each accepted message is written to OUTDIR as N.eml, with the envelope recipients in
N.rcpt. With --cert it offers STARTTLS; with --user it requires AUTH (over TLS when
TLS is on). With --introspect it offers AUTH XOAUTH2 instead and checks each bearer
token at that RFC 7662 endpoint: a refused token gets the 334 challenge Gmail and
Microsoft send, then 535. Each AUTH is logged to OUTDIR/auth.log. Prints "ready" once
listening.
"""
import argparse
import base64
import json
import os
import urllib.parse
import urllib.request
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Saver:
    def __init__(self, outdir):
        self.outdir = outdir
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(self.outdir, str(self.n))
        with open(base + ".rcpt", "w") as f:
            f.write("\n".join(envelope.rcpt_tos))
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        return "250 OK"


class OAuthSaver(Saver):
    def __init__(self, outdir, user, introspect):
        super().__init__(outdir)
        self.user = user
        self.introspect = introspect

    async def auth_XOAUTH2(self, server, args):
        try:
            if len(args) > 1:
                decoded = base64.b64decode(args[1])
            else:
                decoded = await server.challenge_auth("", encode_to_b64=False)
            text = decoded.decode()
            fields = dict(p.split("=", 1) for p in text.split("\x01") if "=" in p)
            token = fields.get("auth", "").removeprefix("Bearer ")
            who = fields.get("user", "")
        except Exception:
            token, who = "", ""
        body = urllib.parse.urlencode({"token": token}).encode()
        with urllib.request.urlopen(self.introspect, body, timeout=10) as r:
            ans = json.load(r)
        ok = ans.get("active") and ans.get("username") == self.user and who == self.user
        with open(os.path.join(self.outdir, "auth.log"), "a") as f:
            f.write(("ok " if ok else "refused ") + who + "\n")
        if ok:
            return AuthResult(success=True, auth_data=who)
        await server.challenge_auth(
            json.dumps({"status": "401", "schemes": "bearer", "scope": "https://mail.google.com/"}))
        return AuthResult(success=False, handled=False,
                          message="535 5.7.8 Username and Password not accepted (test server)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("outdir")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--introspect")
    a = ap.parse_args()

    ctx = None
    if a.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == a.user
            and auth_data.password.decode() == a.password
        )
        return AuthResult(success=ok, handled=False)

    kwargs = dict(hostname="127.0.0.1", port=a.port, tls_context=ctx, require_starttls=bool(ctx))
    handler = Saver(a.outdir)
    if a.introspect:
        handler = OAuthSaver(a.outdir, a.user, a.introspect)
        kwargs.update(auth_required=True, auth_require_tls=bool(ctx))
    elif a.user:
        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=bool(ctx))
    c = Controller(handler, **kwargs)
    c.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        c.stop()


if __name__ == "__main__":
    sys.exit(main())
