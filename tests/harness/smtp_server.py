"""A real SMTP server for the digest tests (Debian's python3-aiosmtpd).

usage: smtp_server.py PORT OUTDIR [--cert CRT --key KEY] [--user U --password P]

Each accepted message is written to OUTDIR as N.eml, with the envelope recipients in
N.rcpt. With --cert it offers STARTTLS; with --user it requires AUTH (over TLS when
TLS is on). Prints "ready" once listening.
"""
import argparse
import os
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("outdir")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--user")
    ap.add_argument("--password")
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
    if a.user:
        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=bool(ctx))
    c = Controller(Saver(a.outdir), **kwargs)
    c.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        c.stop()


if __name__ == "__main__":
    sys.exit(main())
