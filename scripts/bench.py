"""mailduty benchmark: list, report and claim against a private Dovecot, beside a
minimal reference client (the floor) that sends only the one UID FETCH a lister needs.

Run through scripts/bench (which builds the release binary). Folders are filled by
writing Maildir files and `doveadm force-resync`, 20-100x faster than APPEND.
Prints a Markdown table of medians; BENCHMARKS.md holds the latest output.
"""
import datetime
import imaplib
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

FIELDS = "MESSAGE-ID FROM TO SUBJECT DATE IN-REPLY-TO REFERENCES"
PASSWORD = "bench-password"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def floor(port):
    """The reference lister: LOGIN, EXAMINE, one UID FETCH of the queue's fields.
    It times itself from connect to logout, so Python's start-up is not counted."""
    t = time.perf_counter()
    m = imaplib.IMAP4("127.0.0.1", port)
    m.login("support", PASSWORD)
    m.select('"&Zypb,l,c-"', readonly=True)  # 未対応
    typ, data = m.uid(
        "FETCH", "1:*", f"(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS ({FIELDS})])"
    )
    assert typ == "OK", typ
    m.logout()
    print(time.perf_counter() - t)


class Server:
    def __init__(self, second_port=False):
        self.dir = tempfile.mkdtemp(prefix="mdbench.")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        # A second listener lets one server be reached both through a delayed link
        # and around it (tcp_rows).
        self.port2 = free_port() if second_port else None
        second = (f"""  inet_listener imap2 {{
    address = 127.0.0.1
    port = {self.port2}
  }}
""" if second_port else "")
        d = self.dir
        for sub in ("run", "state", "home"):
            os.makedirs(os.path.join(d, sub))
        shutil.chown(os.path.join(d, "home"), "nobody", "nogroup")
        with open(os.path.join(d, "passwd"), "w") as f:
            f.write(f"support:{{PLAIN}}{PASSWORD}\n")
        self.conf = os.path.join(d, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(f"""base_dir = {d}/run
state_dir = {d}/state
instance_name = mdbench{os.getpid()}
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_max_userip_connections = 100
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
{second}  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service auth {{
  chroot =
}}
""")
        # Detached from our stdout: the daemon would hold a pipe open after we exit.
        subprocess.run(["/usr/sbin/dovecot", "-c", self.conf], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        self.seq = 0

    def doveadm(self, *args):
        return subprocess.run(
            ["doveadm", "-c", self.conf, *args], check=True, capture_output=True, text=True
        ).stdout

    def fill(self, folder, n, age_days=None):
        path = self.doveadm("mailbox", "path", "-u", "support", folder).strip()
        cur = os.path.join(path, "cur")
        now = time.time()
        for i in range(n):
            self.seq += 1
            body = (
                f"Message-ID: <bench-{self.seq}@load.example>\r\n"
                f"From: =?UTF-8?B?5bGx55Sw?= <customer{self.seq % 500}@client{self.seq % 50}.example>\r\n"
                "To: support@example.co.jp\r\n"
                f"Subject: =?UTF-8?B?5ZWP44GE5ZCI44KP44Gb?= {self.seq}\r\n"
                "Date: Fri, 20 Nov 2026 09:00:00 +0900\r\n"
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                + "お問い合わせ本文です。\r\n" * 20
            ).encode()
            name = os.path.join(cur, f"{int(now)}.M{self.seq}P{os.getpid()}.bench,S={len(body)}:2,")
            with open(name, "wb") as f:
                f.write(body)
            t = now - 3600 * (1 + self.seq % 48)
            if age_days is not None:
                t = now - 86400 * age_days - self.seq % 3600
            os.utime(name, (t, t))
        subprocess.run(["chown", "-R", "nobody:nogroup", path], check=True)
        self.doveadm("force-resync", "-u", "support", folder)

    def replies(self, folder, targets, tag):
        """What mail clients file in Sent after replying: one reply to each target,
        APPENDed over IMAP as a client does (Maildir files dropped in by hand would
        make the server rescan the whole directory on the next open)."""
        m = imaplib.IMAP4("127.0.0.1", self.port)
        m.login("support", PASSWORD)
        date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(time.time() - 60))
        for i, mid in enumerate(targets):
            body = (
                f"Message-ID: <reply-{tag}-{i}@support.example>\r\n"
                "From: =?UTF-8?B?55Sw5Lit?= <support@example.co.jp>\r\n"
                f"To: customer@client.example\r\nSubject: Re: x {i}\r\n"
                f"In-Reply-To: <{mid}>\r\nReferences: <{mid}>\r\nDate: {date}\r\n"
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                + "ご連絡ありがとうございます。\r\n" * 20
            ).encode()
            typ, _ = m.append(folder, "(\\Seen)", imaplib.Time2Internaldate(time.time() - 60), body)
            assert typ == "OK", typ
        m.logout()

    def stop(self):
        subprocess.run(["doveadm", "-c", self.conf, "stop"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class Latency:
    """A TCP relay on loopback that adds a round-trip time: one RTT for the connection
    set-up, then half an RTT each way for every chunk, order kept. This kernel has no
    netem; delaying whole chunks models a request/response protocol like IMAP well."""

    def __init__(self, upstream_port, rtt):
        import asyncio
        import threading
        self.rtt = rtt
        self.upstream = upstream_port
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve():
            asyncio.set_event_loop(self.loop)
            srv = self.loop.run_until_complete(
                asyncio.start_server(self.client, "127.0.0.1", self.port))
            self.server = srv
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        ready.wait()

    async def pump(self, reader, writer):
        import asyncio
        half = self.rtt / 2
        queue = asyncio.Queue()

        async def deliver():
            while True:
                due, data = await queue.get()
                if data is None:
                    break
                delay = due - self.loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(data)
                await writer.drain()
            writer.close()

        task = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                queue.put_nowait((self.loop.time() + half, data))
        finally:
            queue.put_nowait((0, None))
            await task

    async def client(self, creader, cwriter):
        import asyncio
        await asyncio.sleep(self.rtt)  # the TCP handshake
        sreader, swriter = await asyncio.open_connection("127.0.0.1", self.upstream)
        await asyncio.gather(self.pump(creader, swriter), self.pump(sreader, cwriter),
                             return_exceptions=True)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)


def floor_archive(port):
    """The reference archiver: one SEARCH BEFORE and one UID MOVE of the whole set."""
    t = time.perf_counter()
    m = imaplib.IMAP4("127.0.0.1", port)
    m.login("support", PASSWORD)
    m.select('"&W4xOhg-"')  # 完了
    typ, data = m.uid("SEARCH", "BEFORE", (datetime.date.today() - datetime.timedelta(days=365)).strftime("%d-%b-%Y"))
    uids = [int(u) for u in data[0].split()]
    assert typ == "OK" and uids, typ
    typ, _ = m.uid("MOVE", f"{min(uids)}:{max(uids)}", '"&W4xOhg-/floor"')
    assert typ == "OK", typ
    m.logout()
    print(time.perf_counter() - t)


def floor_sent(port, from_uid):
    """The reference reader of Sent: LOGIN, EXAMINE Sent, one UID FETCH of the new
    messages' headers. Any client opening a Maildir folder that changed pays the
    server's re-read of the folder's UID list."""
    t = time.perf_counter()
    m = imaplib.IMAP4("127.0.0.1", port)
    m.login("support", PASSWORD)
    m.select("Sent", readonly=True)
    typ, _ = m.uid("FETCH", f"{from_uid}:*", f"(UID FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS ({FIELDS} CC)])")
    assert typ == "OK", typ
    m.logout()
    print(time.perf_counter() - t)


def trips_of(err):
    """Commands and round trips in a -v log (LOGOUT is not waited for)."""
    lines = [line for line in err.splitlines() if not line.endswith(" LOGOUT")]
    sent = sum(1 for line in lines if line.startswith("C: "))
    trips = sum(1 for a, b in zip([""] + lines, lines) if b.startswith("C: ") and not a.startswith("C: "))
    return sent, trips


def archive_rows(bin_, runs):
    """archive of 100,000 old messages out of a 110,000-message 完了, then a rerun."""
    rows = []
    for who in ("floor", "mailduty"):
        srv = Server()
        try:
            rules = os.path.join(srv.dir, "rules.yaml")
            write_rules(rules, srv.port)
            env = dict(os.environ, BENCH_PW=PASSWORD, MAILDUTY_RULES=rules, NO_COLOR="1")
            subprocess.run([bin_, "init"], env=env, check=True, capture_output=True)
            srv.fill("完了", 100000, age_days=400)
            srv.fill("完了", 10000)
            if who == "floor":
                srv.doveadm("mailbox", "create", "-u", "support", "完了/floor")
                out = subprocess.run([sys.executable, __file__, "floor-archive", str(srv.port)],
                                     check=True, capture_output=True, text=True).stdout
                floor_t = float(out.strip())
                continue
            t, rss, err = run_once([bin_, "-v", "archive"], env)
            sent, trips = trips_of(err)
            left = srv.doveadm("-f", "tab", "search", "-u", "support", "mailbox", "完了", "ALL").count("\n") - 1
            rows.append((f"archive 100,000 of 110,000 in 完了 ({sent} commands, {trips} round trips; {left:,} left)",
                         t, floor_t, rss))
            again, _ = median([bin_, "archive"], env, runs)
            _, _, err = run_once([bin_, "-v", "archive"], env)
            sent, trips = trips_of(err)
            rows.append((f"archive again, nothing to move ({sent} commands, {trips} round trips)", again, None, None))
        finally:
            srv.stop()
    return rows


def sent_rows(bin_, runs):
    """rotate --apply finding 50 new replies in a Sent of 1,000 and of 100,000 old
    messages: the cost must follow what is new, not the size of Sent."""
    rows = []
    for size in (1000, 100000):
        srv = Server()
        try:
            rules = os.path.join(srv.dir, "rules.yaml")
            write_rules(rules, srv.port)
            with open(rules, "a") as f:
                f.write("folders:\n  sent: Sent\n")
            env = dict(os.environ, BENCH_PW=PASSWORD, MAILDUTY_RULES=rules, NO_COLOR="1")
            srv.doveadm("mailbox", "create", "-u", "support", "Sent")
            subprocess.run([bin_, "init"], env=env, check=True, capture_output=True)
            srv.fill("Sent", size, age_days=30)
            first = srv.seq + 1
            srv.fill("未対応", 50 * runs)
            targets = [f"bench-{n}@load.example" for n in range(first, first + 50 * runs)]
            # The first look sets the marks; Sent's old mail is outside reply_window.
            run_once([bin_, "rotate", "--apply"], env)
            floors = []
            for r in range(runs):
                nxt = int(srv.doveadm("-f", "tab", "mailbox", "status", "-u", "support", "uidnext", "Sent")
                          .splitlines()[-1].split("\t")[-1])
                srv.replies("Sent", [f"none-{r}-{k}@x" for k in range(50)], f"floor-{size}-{r}")
                out = subprocess.run([sys.executable, __file__, "floor-sent", str(srv.port), str(nxt)],
                                     check=True, capture_output=True, text=True).stdout
                floors.append(float(out.strip()))
            floor_t = statistics.median(floors)
            times = []
            for r in range(runs):
                srv.replies("Sent", targets[50 * r:50 * (r + 1)], f"{size}-{r}")
                argv = [bin_, "rotate", "--apply", "--format", "json"]
                if r == runs - 1:
                    argv.insert(1, "-v")
                t, rss, err = run_once(argv, env)
                times.append(t)
            sent, trips = trips_of(err)
            if os.environ.get("BENCH_LOG"):
                sys.stderr.write(err)
            recorded = srv.doveadm("-f", "tab", "search", "-u", "support", "mailbox", "対応履歴",
                                   "HEADER", "X-Mailduty-Event", "reply").count("\n") - 1
            t = statistics.median(times)
            rows.append((f"rotate --apply, 50 new replies in Sent of {size:,} ({sent} commands, {trips} round trips;"
                         f" {recorded} replies recorded in {runs} runs)", t, floor_t, rss))
            again, _ = median([bin_, "rotate", "--apply"], env, runs)
            _, _, err = run_once([bin_, "-v", "rotate", "--apply"], env)
            sent, trips = trips_of(err)
            if os.environ.get("BENCH_LOG"):
                sys.stderr.write(err)
            rows.append((f"rotate --apply again, nothing new in Sent of {size:,} ({sent} commands, {trips} round trips)",
                         again, None, None))
        finally:
            srv.stop()
    return rows



def floor_intake(port):
    """The reference intake: one `UID MOVE 1:*` of the inbox into 未対応."""
    t = time.perf_counter()
    m = imaplib.IMAP4("127.0.0.1", port)
    m.login("support", PASSWORD)
    m.select("INBOX")
    typ, _ = m.uid("MOVE", "1:*", '"&Zypb,l,c-"')
    assert typ == "OK", typ
    m.logout()
    print(time.perf_counter() - t)


def write_scale_rules(path, port, assign):
    """Both members on duty every day, business hours around the clock."""
    days = ", ".join(f"{d}: [tanaka, suzuki]" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
    with open(path, "w") as f:
        f.write(f"""imap:
  host: 127.0.0.1
  port: {port}
  tls: none
  user: support
  password_env: BENCH_PW
members:
  tanaka: {{ name: 田中, login: tanaka }}
  suzuki: {{ name: 鈴木, login: suzuki }}
assign: {assign}
business_hours: {{ start: "00:00", end: "24:00", days: [mon, tue, wed, thu, fri, sat, sun] }}
roster:
  holidays: {{ japan: false }}
  weekdays: {{ {days} }}
""")


def event_mail(kind, seq, target, at):
    """A history event as mailduty writes it (the fields `report` reads)."""
    stamp = datetime.datetime.fromtimestamp(at, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        "From: mailduty <mailduty@localhost>\r\n"
        f"Message-ID: <bench-ev{seq}@mailduty>\r\n"
        f"Subject: [mailduty] {kind} id{seq} by tanaka\r\n"
        f"X-Mailduty-Event: {kind}\r\nX-Mailduty-Actor: tanaka\r\nX-Mailduty-Id: id{seq}\r\n"
        f"X-Mailduty-Time: {stamp}\r\nX-Mailduty-Target: <{target}>\r\n"
        "X-Mailduty-From-Folder: =?UTF-8?B?5pyq5a++5b+c?=\r\n"
        f"\r\ntanaka {kind}\r\n"
    ).encode()


def fill_raw(srv, folder, mails):
    """(bytes, mtime) pairs into a folder's Maildir; the mtime is the INTERNALDATE."""
    path = srv.doveadm("mailbox", "path", "-u", "support", folder).strip()
    cur = os.path.join(path, "cur")
    for i, (body, t) in enumerate(mails):
        srv.seq += 1
        name = os.path.join(cur, f"{int(t)}.M{srv.seq}P{os.getpid()}.raw,S={len(body)}:2,S")
        with open(name, "wb") as f:
            f.write(body)
        os.utime(name, (t, t))
    subprocess.run(["chown", "-R", "nobody:nogroup", path], check=True)
    srv.doveadm("force-resync", "-u", "support", folder)


def wipe(srv):
    srv.doveadm("expunge", "-u", "support", "mailbox", "*", "ALL")


def rotate_rows(bin_, runs, rtt):
    """`rotate --apply` of n new inbox messages, both assign modes, beside one
    `UID MOVE 1:*` of the same inbox; again through the latency relay."""
    rows = []
    sizes = [int(x) for x in os.environ.get("BENCH_INTAKE", "1000,10000").split(",")]
    srv = Server()
    lat = Latency(srv.port, rtt) if rtt > 0 else None
    try:
        rules = os.path.join(srv.dir, "rules-init.yaml")
        write_scale_rules(rules, srv.port, "none")
        subprocess.run([bin_, "init"], env=dict(os.environ, BENCH_PW=PASSWORD, MAILDUTY_RULES=rules),
                       check=True, capture_output=True)
        for port, label in [(srv.port, "")] + ([(lat.port, f", {rtt * 1000:.0f} ms RTT")] if lat else []):
            for n in sizes:
                floor_t = []
                for _ in range(runs):
                    wipe(srv)
                    srv.fill("INBOX", n)
                    out = subprocess.run([sys.executable, __file__, "floor-intake", str(port)],
                                         check=True, capture_output=True, text=True).stdout
                    floor_t.append(float(out))
                floor_m = statistics.median(floor_t)
                for assign in ("none", "duty"):
                    rules = os.path.join(srv.dir, f"rules-{assign}-{port}.yaml")
                    write_scale_rules(rules, port, assign)
                    env = dict(os.environ, BENCH_PW=PASSWORD, MAILDUTY_RULES=rules, NO_COLOR="1")
                    subprocess.run([bin_, "init"], env=env, check=True, capture_output=True)
                    times = []
                    for _ in range(runs):
                        wipe(srv)
                        srv.fill("INBOX", n)
                        t, _, _ = run_once([bin_, "rotate", "--apply"], env)
                        times.append(t)
                    wipe(srv)
                    srv.fill("INBOX", n)
                    _, rss, err = run_once([bin_, "-v", "rotate", "--apply"], env)
                    sent, trips = trips_of(err)
                    rows.append((f"rotate --apply, {n:,} new, assign: {assign}{label} ({sent} commands, {trips} round trips)",
                                 statistics.median(times), floor_m, rss))
    finally:
        if lat:
            lat.stop()
        srv.stop()
    return rows


def report_rows(bin_, runs):
    """`report` with 1,000 claims 10-30 days old (outside its 8-day window) against
    the same with claims 1-5 days old; `report` and `history --since` with 20,000
    events in the window (scattered among 20,000 older ones)."""
    rows = []
    srv = Server()
    try:
        rules = os.path.join(srv.dir, "rules.yaml")
        write_rules(rules, srv.port)
        env = dict(os.environ, BENCH_PW=PASSWORD, MAILDUTY_RULES=rules, NO_COLOR="1")
        subprocess.run([bin_, "init"], env=env, check=True, capture_output=True)
        now = time.time()
        first = srv.seq + 1
        srv.fill("対応中/tanaka", 1000, age_days=40)
        mids = [f"bench-{first + i}@load.example" for i in range(1000)]
        res = {}
        for label, days in (("recent", lambda i: 1 + i % 5), ("old", lambda i: 10 + i % 20)):
            wipe_history(srv)
            evs = []
            for i, mid in enumerate(mids):
                at = now - 86400 * days(i)
                evs.append((event_mail("claim", i, mid, at), at))
                for k in range(5):
                    evs.append((event_mail("file", 10000 + i * 5 + k, f"other{i}-{k}@x", at), at))
            fill_raw(srv, "対応履歴", evs)
            t, rss = median([bin_, "report", "--format", "json"], env, runs)
            _, _, err = run_once([bin_, "-v", "report", "--format", "json"], env)
            sent, trips = trips_of(err)
            res[label] = (t, rss, sent, trips)
        t, rss, sent, trips = res["old"]
        rows.append((f"report, 1,000 claims 10-30 days old ({sent} commands, {trips} round trips; reference: claims 1-5 days old)",
                     t, res["recent"][0], rss))
        wipe_history(srv)
        evs = []
        for i in range(40000):
            at = now - (3600 * 2 if i % 2 == 0 else 86400 * 40)
            evs.append((event_mail("file", 100000 + i, f"w{i}@x", at), at))
        fill_raw(srv, "対応履歴", evs)
        t, rss = median([bin_, "report", "--format", "json"], env, runs)
        _, _, err = run_once([bin_, "-v", "report", "--format", "json"], env)
        sent, trips = trips_of(err)
        rows.append((f"report, 20,000 events in the window among 40,000 ({sent} commands, {trips} round trips)", t, None, rss))
        since = (datetime.date.today() - datetime.timedelta(days=3)).isoformat()
        t, rss = median([bin_, "history", "--since", since, "--format", "json"], env, runs)
        rows.append(("history --since, 20,000 events in the window among 40,000", t, None, rss))
    finally:
        srv.stop()
    return rows


def bytes_of(err):
    """Bytes read from the server, from the `-v` summary line."""
    for line in err.splitlines():
        if line.startswith("mailduty: ") and line.endswith(" bytes read from the IMAP server"):
            return int(line.split()[1])
    return None


class Skip(Exception):
    pass


def steady_rows(bin_, runs):
    """The cron case (issue 28): `rotate --apply` with nothing new over 10,000 claimed
    and 10,000 unclaimed, and with 1,000 new beside 3,000 claimed (vs one UID MOVE)."""
    rows = []
    # BENCH_STEADY=new: only the 1,000-new row.
    srv = Server() if os.environ.get("BENCH_STEADY") != "new" else None
    try:
        if srv is None:
            raise Skip
        rules = os.path.join(srv.dir, "rules.yaml")
        write_scale_rules(rules, srv.port, "duty")
        cache = os.path.join(srv.dir, "cache")
        env = dict(os.environ, BENCH_PW=PASSWORD, MAILDUTY_RULES=rules, NO_COLOR="1", XDG_CACHE_HOME=cache)
        subprocess.run([bin_, "init"], env=env, check=True, capture_output=True)
        srv.fill("対応中/tanaka", 5000)
        srv.fill("対応中/suzuki", 5000)
        srv.fill("未対応", 10000)
        t, _, err = run_once([bin_, "-v", "rotate", "--apply"], env)
        sent, trips = trips_of(err)
        rows.append((f"rotate --apply, first run over 10,000 claimed (no history) and 10,000 unclaimed"
                     f" ({sent} commands, {trips} round trips, {bytes_of(err) or 0:,} bytes read)", t, None, None))
        # The hand-out took the unclaimed; put 10,000 back in 未対応 with assign: none.
        write_scale_rules(rules, srv.port, "none")
        srv.fill("未対応", 10000)
        run_once([bin_, "rotate", "--apply"], env)
        t, rss = median([bin_, "rotate", "--apply"], env, runs)
        _, _, err = run_once([bin_, "-v", "rotate", "--apply"], env)
        if os.environ.get("BENCH_LOG"):
            sys.stderr.write(err)
        sent, trips = trips_of(err)
        rows.append((f"rotate --apply, nothing new, 10,000 claimed and 10,000 unclaimed"
                     f" ({sent} commands, {trips} round trips, {bytes_of(err) or 0:,} bytes read)", t, None, rss))
        # One new message: the header fields of the 20,000 known ones are not read again.
        srv.fill("INBOX", 1)
        t, _, err = run_once([bin_, "-v", "rotate", "--apply"], env)
        sent, trips = trips_of(err)
        rows.append((f"rotate --apply, one new message, 10,000 claimed and 10,000 unclaimed"
                     f" ({sent} commands, {trips} round trips, {bytes_of(err) or 0:,} bytes read)", t, None, None))
        shutil.rmtree(cache, ignore_errors=True)
        t, _, err = run_once([bin_, "-v", "rotate", "--apply"], env)
        sent, trips = trips_of(err)
        rows.append((f"rotate --apply, nothing new, same, cache deleted"
                     f" ({sent} commands, {trips} round trips, {bytes_of(err) or 0:,} bytes read)", t, None, None))
        l_t, _ = median([bin_, "list", "--format", "json"], env, runs)
        f_t = floor_median(srv.port, runs)
        rows.append(("list, 10,000 claimed and 10,000 unclaimed (reference: one UID FETCH of 未対応)", l_t, f_t, None))
    except Skip:
        pass
    finally:
        if srv is not None:
            srv.stop()
    # 1,000 new beside 3,000 claimed, assign: duty, against one UID MOVE of 1,000.
    srv = Server()
    try:
        rules = os.path.join(srv.dir, "rules.yaml")
        write_scale_rules(rules, srv.port, "duty")
        cache = os.path.join(srv.dir, "cache")
        env = dict(os.environ, BENCH_PW=PASSWORD, MAILDUTY_RULES=rules, NO_COLOR="1", XDG_CACHE_HOME=cache)
        subprocess.run([bin_, "init"], env=env, check=True, capture_output=True)
        floors = []
        for _ in range(runs):
            srv.fill("INBOX", 1000)
            out = subprocess.run([sys.executable, __file__, "floor-intake", str(srv.port)],
                                 check=True, capture_output=True, text=True).stdout
            floors.append(float(out))
            wipe(srv)
        floor_m = statistics.median(floors)
        times = []
        for r in range(runs):
            # Three cron runs of 1,000 new each, then the measured fourth.
            wipe(srv)
            shutil.rmtree(cache, ignore_errors=True)
            for _ in range(3):
                srv.fill("INBOX", 1000)
                run_once([bin_, "rotate", "--apply"], env)
            srv.fill("INBOX", 1000)
            argv = [bin_, "rotate", "--apply"]
            if r == runs - 1:
                argv.insert(1, "-v")
            t, rss, err = run_once(argv, env)
            times.append(t)
        sent, trips = trips_of(err)
        if os.environ.get("BENCH_LOG"):
            sys.stderr.write(err)
        rows.append((f"rotate --apply, 1,000 new, 3,000 claimed, assign: duty"
                     f" ({sent} commands, {trips} round trips, {bytes_of(err) or 0:,} bytes read;"
                     f" reference: one UID MOVE of 1,000)", statistics.median(times), floor_m, rss))
    finally:
        srv.stop()
    return rows


def wipe_history(srv):
    srv.doveadm("expunge", "-u", "support", "mailbox", "対応履歴", "ALL")


def claim_history_rows(bin_, runs):
    """`claim` with 100,000 events in 対応履歴 against an empty history, by short ID
    and by Message-ID."""
    rows = []
    srv = Server()
    try:
        rules = os.path.join(srv.dir, "rules.yaml")
        write_rules(rules, srv.port)
        env = dict(os.environ, BENCH_PW=PASSWORD, MAILDUTY_RULES=rules, NO_COLOR="1")
        subprocess.run([bin_, "init"], env=env, check=True, capture_output=True)
        first = srv.seq + 1
        srv.fill("未対応", 10000)
        ids = subprocess.run([bin_, "list", "--status", "unclaimed", "--format", "ids"], env=env,
                             check=True, capture_output=True, text=True).stdout.split()
        mids = [f"<bench-{first + i}@load.example>" for i in range(10000)]
        res = {}
        for label in ("empty", "full"):
            if label == "full":
                now = time.time()
                fill_raw(srv, "対応履歴", [(event_mail("file", 200000 + i, f"h{i}@x", now - 60 * i), now - 60 * i)
                                          for i in range(100000)])
            for how, pool in (("ID", ids), ("Message-ID", mids)):
                times = []
                for _ in range(runs):
                    t, _, _ = run_once([bin_, "--as", "tanaka", "claim", pool.pop()], env)
                    times.append(t)
                _, _, err = run_once([bin_, "--as", "tanaka", "-v", "claim", pool.pop()], env)
                # Kept for a look at what the counted run sent.
                logs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target")
                with open(os.path.join(logs, f"bench-claim-{label}-{how}.log"), "w") as f:
                    f.write(err)
                res[(label, how)] = (statistics.median(times),) + trips_of(err)
            # The minimal claimer on the same server and history: what the server's
            # own cost of a large 対応履歴 is, for any client.
            times = []
            for k in range(runs):
                out = subprocess.run([sys.executable, __file__, "floor-claim", str(srv.port), mids.pop(), str(k)],
                                     check=True, capture_output=True, text=True).stdout
                times.append(float(out))
            res[(label, "floor")] = (statistics.median(times), 0, 0)
        for how in ("ID", "Message-ID"):
            t, sent, trips = res[("full", how)]
            rows.append((f"claim by {how}, 対応履歴 100,000 ({sent} commands, {trips} round trips; reference: 対応履歴 empty)",
                         t, res[("empty", how)][0], None))
        rows.append(("minimal claimer (scripts/bench.py floor-claim), 対応履歴 100,000 (reference: 対応履歴 empty)",
                     res[("full", "floor")][0], res[("empty", "floor")][0], None))
        for how in ("ID", "Message-ID"):
            rows.append((f"claim by {how} against the minimal claimer, both with 対応履歴 100,000",
                         res[("full", how)][0], res[("full", "floor")][0], None))
    finally:
        srv.stop()
    return rows


HISTORY = '"&W,5f3Fxla3Q-"'  # 対応履歴
TANAKA = '"&W,5f3E4t-/tanaka"'  # 対応中/tanaka


def floor_claim(port, mid, seq):
    """The reference claimer: LOGIN, SELECT 未対応, one UID SEARCH for the Message-ID,
    UID MOVE into the member's folder, APPEND of the history event. No race guard
    and no copy check. It times itself from connect to the APPEND's OK; LOGOUT is
    sent without waiting, as mailduty does."""
    t = time.perf_counter()
    m = imaplib.IMAP4("127.0.0.1", port)
    m.login("support", PASSWORD)
    m.select('"&Zypb,l,c-"')  # 未対応
    typ, data = m.uid("SEARCH", "HEADER", "Message-ID", f'"{mid}"')
    uids = data[0].split()
    assert typ == "OK" and len(uids) == 1, (typ, data)
    typ, _ = m.uid("MOVE", uids[0].decode(), TANAKA)
    assert typ == "OK", typ
    typ, _ = m.append(HISTORY, None, None, event_mail("claim", 900000 + seq, mid.strip("<>"), time.time()))
    assert typ == "OK", typ
    elapsed = time.perf_counter() - t
    m.send(b"Z LOGOUT\r\n")
    m.shutdown()
    print(elapsed)


def link_probe(port):
    """One TCP connect (the handshake: one round trip) and one LOGIN (one round trip)."""
    t = time.perf_counter()
    socket.create_connection(("127.0.0.1", port)).close()
    connect = time.perf_counter() - t
    m = imaplib.IMAP4("127.0.0.1", port)
    t = time.perf_counter()
    m.login("support", PASSWORD)
    login = time.perf_counter() - t
    m.logout()
    return connect, login


NS_PREFIX = "mdbench"


def netns_list():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def netns_remove(ns):
    """Ends every process left in the namespace (ours: the delayer, Dovecot), then
    deletes it; its iptables rules go with it. The host's rules are never touched."""
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(int(pid), sig)
            except ProcessLookupError:
                pass
        for _ in range(50):
            pids = [p for p in pids if os.path.exists(f"/proc/{p}")]
            if not pids:
                break
            time.sleep(0.1)
        if not pids:
            break
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    if ns in netns_list():
        sys.stderr.write(f"bench: could not delete network namespace {ns}: run `ip netns del {ns}`\n")


def tcp_rows(bin_, runs, rtt):
    """claim and list at `rtt` over a real TCP link: Dovecot, mailduty and the reference
    clients in a network namespace of their own, whose loopback packets to and from
    Dovecot's port are held rtt/2 by scripts/netdelay.py (NFQUEUE; no netem here).
    The same server is also reached through the in-process relay, for comparison."""
    py = os.environ.get("BENCH_NETDELAY_PY")
    if not py:
        sys.exit("bench: BENCH_NETDELAY_PY (a Python with NetfilterQueue) is not set; run scripts/bench")
    # A namespace left by a run that was killed outright (its pid is gone).
    for old in netns_list():
        if old.startswith(NS_PREFIX) and old[len(NS_PREFIX):].isdigit() \
                and not os.path.exists(f"/proc/{old[len(NS_PREFIX):]}"):
            netns_remove(old)
    ns = f"{NS_PREFIX}{os.getpid()}"
    inner = None
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True)
        # A real path's MTU: on a 64 KiB loopback MTU the initial window is 640 KB and
        # slow start would not show.
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up", "mtu", "1500"], check=True)
        inner = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, __file__, "tcp-inner",
                                  bin_, str(runs), str(rtt), py], stdout=subprocess.PIPE, text=True)
        out, _ = inner.communicate()
        if inner.returncode != 0:
            sys.exit(f"bench: the real-TCP part failed (exit {inner.returncode})")
        res = json.loads(out.strip().splitlines()[-1])
        return res["probe"], [tuple(r) for r in res["rows"]]
    finally:
        if inner:
            # After Ctrl-C it is already cleaning up; otherwise it is told to.
            for stop in (None, inner.terminate, inner.kill):
                if inner.poll() is not None:
                    break
                if stop:
                    stop()
                try:
                    inner.wait(20)
                except subprocess.TimeoutExpired:
                    pass
        if ns in netns_list():
            netns_remove(ns)


def tcp_inner(bin_, runs, rtt, py):
    """The part of tcp_rows that runs inside the namespace."""
    srv = Server(second_port=True)
    lat = delayer = None
    done = []
    try:
        lat = Latency(srv.port2, rtt)
        delayer = subprocess.Popen([py, os.path.join(os.path.dirname(os.path.abspath(__file__)), "netdelay.py"),
                                    "0", str(rtt * 1000 / 2)], stdout=subprocess.PIPE, text=True)
        if delayer.stdout.readline().strip() != "ready":
            sys.exit("bench: netdelay.py did not start")

        def watch():
            # A delayer that died drops every packet: clients would wait forever.
            delayer.wait()
            if not done:
                sys.stderr.write(f"bench: netdelay.py exited ({delayer.returncode})\n")
                os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=watch, daemon=True).start()
        # Without a listener on the queue the kernel drops these packets: a dead
        # delayer shows as a failed run, never as a fast one.
        for flag in ("--dport", "--sport"):
            subprocess.run(["iptables", "-t", "mangle", "-A", "INPUT", "-i", "lo", "-p", "tcp", flag,
                            str(srv.port), "-j", "NFQUEUE", "--queue-num", "0"], check=True)
        rules = os.path.join(srv.dir, "rules.yaml")
        write_rules(rules, srv.port)
        env = dict(os.environ, BENCH_PW=PASSWORD, MAILDUTY_RULES=rules, NO_COLOR="1")
        relay_rules = os.path.join(srv.dir, "rules-relay.yaml")
        write_rules(relay_rules, lat.port)
        relay_env = dict(env, MAILDUTY_RULES=relay_rules)
        subprocess.run([bin_, "init"], env=env, check=True, capture_output=True)
        first = srv.seq + 1
        srv.fill("未対応", 10000)
        mids = [f"<bench-{first + i}@load.example>" for i in range(10000)]
        probes = [link_probe(srv.port) for _ in range(5)]
        connect = statistics.median(p[0] for p in probes)
        login = statistics.median(p[1] for p in probes)
        if connect < 0.8 * rtt or login < 0.8 * rtt:
            sys.exit(f"bench: the link delay is not in effect (connect {connect * 1000:.1f} ms,"
                     f" LOGIN {login * 1000:.1f} ms)")
        rows = []
        ms = f"{rtt * 1000:.0f} ms RTT"

        def floor_claims(port):
            times = []
            for _ in range(runs):
                out = subprocess.run([sys.executable, __file__, "floor-claim", str(port), mids.pop(), str(len(mids))],
                                     check=True, capture_output=True, text=True).stdout
                times.append(float(out))
            return statistics.median(times)

        def claims(e, pool):
            times = []
            for _ in range(runs):
                t, _, _ = run_once([bin_, "--as", "tanaka", "claim", pool.pop()], e)
                times.append(t)
            _, _, err = run_once([bin_, "--as", "tanaka", "-v", "claim", pool.pop()], e)
            return (statistics.median(times),) + trips_of(err)

        # Dovecot's first header SEARCH of the fresh folder parses every message:
        # whoever went first would pay it, so an untimed claim goes first.
        subprocess.run([sys.executable, __file__, "floor-claim", str(srv.port), mids.pop(), "0"],
                       check=True, capture_output=True)
        floor_tcp = floor_claims(srv.port)
        floor_relay = floor_claims(lat.port)
        t, sent, trips = claims(env, mids)
        rows.append((f"claim by Message-ID, 1 of 10,000 unclaimed, {ms} over TCP ({sent} commands, {trips} round trips)",
                     t, floor_tcp, None))
        # Fresh IDs: those claimed by Message-ID above have left 未対応.
        ids = subprocess.run([bin_, "list", "--status", "unclaimed", "--format", "ids"], env=env,
                             check=True, capture_output=True, text=True).stdout.split()
        t, sent, trips = claims(env, ids)
        rows.append((f"claim by ID, 1 of 10,000 unclaimed, {ms} over TCP ({sent} commands, {trips} round trips)",
                     t, floor_tcp, None))
        t, sent, trips = claims(relay_env, ids)
        rows.append((f"claim by ID, 1 of 10,000 unclaimed, {ms} through the relay ({sent} commands, {trips} round trips)",
                     t, floor_relay, None))
        for port, e, how in ((srv.port, env, "over TCP"), (lat.port, relay_env, "through the relay")):
            f_t = floor_median(port, runs)
            l_t, _ = median([bin_, "list", "--format", "json"], e, runs)
            rows.append((f"list, ~10,000 unclaimed, {ms} {how}", l_t, f_t, None))
        print(json.dumps({"probe": [connect, login], "rows": rows}))
    finally:
        # Let the clean-up finish even if a second signal comes (Ctrl-C reaches both
        # this process and the one that started it).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        done.append(1)
        if lat:
            lat.stop()
        srv.stop()
        if delayer:
            delayer.terminate()
            delayer.wait()


def run_once(argv, env):
    """Wall time and peak RSS (KiB) of one child process."""
    # stderr goes to a file: `-v` logs every FETCH line, more than a pipe holds.
    with tempfile.TemporaryFile() as errf:
        t = time.perf_counter()
        p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=errf)
        _, status, ru = os.wait4(p.pid, 0)
        elapsed = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        errf.seek(0)
        err = errf.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{argv} failed: {err}")
    return elapsed, ru.ru_maxrss, err


def floor_median(port, runs):
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, __file__, "floor", str(port)],
                             check=True, capture_output=True, text=True).stdout
        times.append(float(out.strip()))
    return statistics.median(times)


def median(argv, env, runs):
    times, rss = [], []
    for _ in range(runs):
        t, m, _ = run_once(argv, env)
        times.append(t)
        rss.append(m)
    return statistics.median(times), max(rss)


def write_rules(path, port):
    with open(path, "w") as f:
        f.write(f"""imap:
  host: 127.0.0.1
  port: {port}
  tls: none
  user: support
  password_env: BENCH_PW
members:
  tanaka: {{ name: 田中, login: tanaka }}
  suzuki: {{ name: 鈴木, login: suzuki }}
business_hours: {{ start: "09:00", end: "18:00", days: [mon, tue, wed, thu, fri] }}
""")


def proc_rss_fds(pid):
    """Resident memory (KiB) and open file descriptors of a running process."""
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def watch_soak(bin_):
    """`mailduty watch` under 20,000 arrivals in bursts (BENCH_SOAK=N to change):
    how long each burst takes to be filed, and whether memory and descriptors stay
    flat from the first burst to the last. After each burst the filed mail is moved
    to 完了, as a team finishing its work would."""
    total = int(os.environ.get("BENCH_SOAK", "20000"))
    burst = 500
    srv = Server()
    try:
        rules = os.path.join(srv.dir, "rules.yaml")
        write_rules(rules, srv.port)
        env = dict(os.environ, BENCH_PW=PASSWORD, MAILDUTY_RULES=rules, NO_COLOR="1",
                   XDG_STATE_HOME=os.path.join(srv.dir, "state-md"))
        subprocess.run([bin_, "init"], env=env, check=True, capture_output=True)
        w = subprocess.Popen([bin_, "-q", "watch", "--every", "1h"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2)
        start = proc_rss_fds(w.pid)
        samples, drains = [], []
        m = imaplib.IMAP4("127.0.0.1", srv.port)
        m.login("support", PASSWORD)
        sent = 0
        while sent < total:
            for _ in range(min(burst, total - sent)):
                sent += 1
                body = (f"Message-ID: <soak-{sent}@load.example>\r\nFrom: c@client.example\r\n"
                        f"To: support@example.co.jp\r\nSubject: soak {sent}\r\n\r\nbody\r\n").encode()
                m.append("INBOX", None, None, body)
            t = time.perf_counter()
            while True:
                m.select("INBOX", readonly=True)
                typ, data = m.search(None, "ALL")
                if not data[0].split():
                    break
                if time.perf_counter() - t > 120:
                    sys.exit("watch soak: a burst was not filed within 120 s")
                time.sleep(0.05)
            drains.append(time.perf_counter() - t)
            # The team finishes what came (a drag into 完了), so the open queue stays
            # the size of one burst: what grows from here on is the watch itself.
            m.select('"&Zypb,l,c-"')
            m.uid("MOVE", "1:*", '"&W4xOhg-"')
            samples.append(proc_rss_fds(w.pid))
        m.logout()
        w.send_signal(signal.SIGTERM)
        w.wait(timeout=60)
        first, last = samples[0], samples[-1]
        print(f"watch soak: {total:,} arrivals in bursts of {burst}; "
              f"inbox empty after each burst in median {statistics.median(drains) * 1000:.0f} ms "
              f"(max {max(drains) * 1000:.0f} ms)")
        print(f"  RSS: {start[0] / 1024:.1f} MB idle, {first[0] / 1024:.1f} MB after the first burst, "
              f"{last[0] / 1024:.1f} MB after the last; open fds {start[1]}, {first[1]}, {last[1]}")
    finally:
        srv.stop()


def main():
    bin_ = sys.argv[1]
    runs = int(os.environ.get("BENCH_RUNS", "5"))
    sizes = [int(x) for x in os.environ.get("BENCH_SIZES", "1000,10000,100000").split(",")]
    rtt = float(os.environ.get("BENCH_RTT_MS", "50")) / 1000
    srv = Server()
    lat = Latency(srv.port, rtt) if rtt > 0 else None
    rules = os.path.join(srv.dir, "rules.yaml")
    write_rules(rules, srv.port)
    env = dict(os.environ, BENCH_PW=PASSWORD, MAILDUTY_RULES=rules, NO_COLOR="1")
    slow_env = None
    if lat:
        slow_rules = os.path.join(srv.dir, "rules-rtt.yaml")
        write_rules(slow_rules, lat.port)
        slow_env = dict(env, MAILDUTY_RULES=slow_rules)
    md = [bin_]
    rows = []
    ids = []

    def claim_rows(e, label, r):
        claims = []
        for _ in range(r):
            t, _, _ = run_once(md + ["--as", "tanaka", "claim", ids.pop()], e)
            claims.append(t)
        _, _, err = run_once(md + ["--as", "tanaka", "-v", "claim", ids.pop()], e)
        # LOGOUT is sent without waiting for its answer: no round trip.
        lines = [line for line in err.splitlines() if not line.endswith(" LOGOUT")]
        sent = sum(1 for line in lines if line.startswith("C: "))
        # Pipelined commands are logged together: a run of C: lines is one round trip.
        trips = sum(1 for a, b in zip([""] + lines, lines) if b.startswith("C: ") and not a.startswith("C: "))
        rows.append((f"claim 1 of {len(ids):,} unclaimed{label} ({sent} commands, {trips} round trips)",
                     statistics.median(claims), None, None))

    try:
        subprocess.run(md + ["init"], env=env, check=True, capture_output=True)
        have = 0
        only = os.environ.get("BENCH_ONLY")
        if only in ("archive", "sent", "scale", "tcp", "claim-history", "steady"):
            sizes = []
        for n in sizes:
            srv.fill("未対応", n - have)
            have = n
            r = runs if n < 100000 else max(3, runs // 2)
            f_t = floor_median(srv.port, r)
            l_t, l_rss = median(md + ["list", "--format", "json"], env, r)
            rows.append((f"list, {n:,} unclaimed", l_t, f_t, l_rss))
            if n == 10000:
                rep0, _ = median(md + ["report", "--format", "json"], env, r)
                ids = subprocess.run(
                    md + ["list", "--status", "unclaimed", "--format", "ids"],
                    env=env, check=True, capture_output=True, text=True,
                ).stdout.split()
                claim_rows(env, "", r)
                if lat:
                    f_s = floor_median(lat.port, r)
                    l_s, _ = median(md + ["list", "--format", "json"], slow_env, r)
                    rows.append((f"list, 10,000 unclaimed, {rtt * 1000:.0f} ms RTT", l_s, f_s, None))
                    claim_rows(slow_env, f", {rtt * 1000:.0f} ms RTT", r)
                srv.fill("完了", 100000)
                l100, _ = median(md + ["list", "--format", "json"], env, r)
                rep100, _ = median(md + ["report", "--format", "json"], env, r)
                rows.append(("list, 10,000 unclaimed, 完了 100,000 (vs 完了 0)", l100, l_t, None))
                rows.append(("report, 10,000 unclaimed, 完了 100,000 (vs 完了 0)", rep100, rep0, None))
                claim_rows(env, ", 完了 100,000", r)
        if os.environ.get("BENCH_ONLY") == "scale":
            sizes = []
        if os.environ.get("BENCH_ONLY") in (None, "", "scale"):
            rows.extend(rotate_rows(bin_, runs, rtt))
            rows.extend(report_rows(bin_, runs))
            rows.extend(claim_history_rows(bin_, runs))
        if only == "claim-history":
            rows.extend(claim_history_rows(bin_, runs))
        if only in (None, "", "steady"):
            rows.extend(steady_rows(bin_, runs))
        if os.environ.get("BENCH_ARCHIVE", "1") != "0" and only not in ("scale", "list", "sent", "tcp", "claim-history", "steady"):
            rows.extend(archive_rows(bin_, runs))
        if os.environ.get("BENCH_SENT", "1") != "0" and only not in ("archive", "scale", "list", "tcp", "claim-history", "steady"):
            rows.extend(sent_rows(bin_, runs))
        probe = None
        if rtt > 0 and os.environ.get("BENCH_TCP", "1") != "0" and only in (None, "", "tcp"):
            probe, more = tcp_rows(bin_, runs, rtt)
            rows.extend(more)
        dovecot = subprocess.run(["dovecot", "--version"], capture_output=True, text=True).stdout.strip()
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; Dovecot {dovecot}")
        print(f"medians of {runs} runs ({max(3, runs // 2)} at 100,000), loopback, no TLS;")
        print("mailduty is timed as a whole process, the reference from connect to logout;")
        print("the reference column of the 完了 rows is mailduty itself with 完了 empty")
        if probe:
            print(f"real TCP link: TCP connect {probe[0] * 1000:.1f} ms, LOGIN {probe[1] * 1000:.1f} ms (medians of 5)")
        print()
        print("| case | mailduty | reference | ratio | peak RSS |")
        print("|---|---|---|---|---|")
        for name, t, ref, rss in rows:
            ratio = f"{t / ref:.2f}x" if ref else "-"
            reft = f"{ref * 1000:.0f} ms" if ref else "-"
            mem = f"{rss / 1024:.1f} MB" if rss else "-"
            print(f"| {name} | {t * 1000:.0f} ms | {reft} | {ratio} | {mem} |")
    finally:
        if lat:
            lat.stop()
        srv.stop()


if __name__ == "__main__":
    # A plain kill must still run the finally blocks that stop Dovecot and delete
    # the network namespace.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    if len(sys.argv) > 2 and sys.argv[1] == "floor":
        floor(int(sys.argv[2]))
    elif len(sys.argv) > 3 and sys.argv[1] == "floor-sent":
        floor_sent(int(sys.argv[2]), int(sys.argv[3]))
    elif len(sys.argv) > 2 and sys.argv[1] == "floor-archive":
        floor_archive(int(sys.argv[2]))
    elif len(sys.argv) > 2 and sys.argv[1] == "floor-intake":
        floor_intake(int(sys.argv[2]))
    elif len(sys.argv) > 4 and sys.argv[1] == "floor-claim":
        floor_claim(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) > 5 and sys.argv[1] == "tcp-inner":
        tcp_inner(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
    elif os.environ.get("BENCH_ONLY") == "watch":
        watch_soak(sys.argv[1])
    else:
        main()
