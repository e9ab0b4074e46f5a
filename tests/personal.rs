//! Each member signs in as themselves (`sign_in: personal`) on a real Dovecot with the
//! acl plugin, a shared namespace and \Seen private per login: `init` grants the
//! rules' members and viewers their rights and takes them back from a leaver; members
//! work in the shared mailbox under their own login, the history names that login,
//! `--as` someone else is refused, and claims stay race-free between members' own
//! sessions.

mod harness;

use std::os::unix::fs::PermissionsExt;
use std::process::{Output, Stdio};

use harness::imapc::Client;
use harness::relay::Relay;
use harness::seed::hours_ago;
use harness::{ALWAYS_OPEN, Dovecot, Team, code, stderr, stdout};

const MEMBERS: &str = "members:\n  tanaka: { name: 田中 太郎, email: tanaka@example.jp, login: tanaka }\n  suzuki: { name: 鈴木 花子, email: suzuki@example.jp, login: hsuzuki }\n";

fn team(port: u16, members: &str) -> Team {
    Team::with_tail(
        &format!("  host: 127.0.0.1\n  port: {port}\n  tls: none\n"),
        members,
        &format!("{ALWAYS_OPEN}sign_in: personal\nviewers: [boss]\n"),
    )
}

/// A command run by `login` on their own machine: their own config directory.
fn person(team: &Team, login: &str, args: &[&str]) -> Output {
    team.command(args)
        .env(
            "XDG_CONFIG_HOME",
            team.dir.path().join("people").join(login),
        )
        .env(format!("PW_{login}"), format!("pw-{login}"))
        .env_remove("USER")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn sign_in(team: &Team, login: &str) {
    let env = format!("PW_{login}");
    let o = person(
        team,
        login,
        &["login", "--login", login, "--password-env", &env],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let file = team
        .dir
        .path()
        .join("people")
        .join(login)
        .join("mailduty/login.yaml");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

fn mail(mid: &str) -> Vec<u8> {
    format!(
        "Message-ID: <{mid}>\r\nFrom: customer@example.com\r\nTo: support@example.jp\r\nSubject: question {mid}\r\nDate: Fri, 20 Nov 2026 09:00:00 +0900\r\n\r\nbody\r\n"
    )
    .into_bytes()
}

fn ok(o: &Output) -> String {
    assert_eq!(code(o), 0, "stdout: {}\nstderr: {}", stdout(o), stderr(o));
    stdout(o)
}

fn users(dc: &Dovecot, logins: &[&str]) {
    for l in logins {
        dc.add_user(l, &format!("pw-{l}"));
    }
}

#[test]
fn members_work_as_themselves_and_a_leaver_loses_access() {
    let dc = Dovecot::start_shared();
    users(&dc, &["tanaka", "hsuzuki", "boss"]);
    let t = team(dc.imap_port, MEMBERS);
    let init = ok(&t.run(&["init"]));
    assert!(init.contains("granted tanaka lrswite on 未対応"), "{init}");
    assert!(init.contains("granted boss lr on INBOX"), "{init}");
    // Run again: nothing left to change.
    assert!(ok(&t.run(&["init"])).contains("access: 3 logins, 0 changes"));
    assert!(ok(&t.run(&["access"])).contains("nothing to change"));

    // A wrong password is refused and nothing is kept.
    let bad = person(
        &t,
        "tanaka",
        &["login", "--login", "tanaka", "--password-env", "NOPE"],
    );
    assert_eq!(code(&bad), 2, "{}", stderr(&bad));
    sign_in(&t, "tanaka");
    sign_in(&t, "hsuzuki");
    sign_in(&t, "boss");

    dc.append("未対応", "", &hours_ago(2), &mail("p1@example.com"));
    dc.append("INBOX", "", &hours_ago(1), &mail("p2@example.com"));
    let listed = ok(&person(&t, "tanaka", &["list", "--format", "json"]));
    assert!(
        listed.contains("p1@example.com") && listed.contains("p2@example.com"),
        "{listed}"
    );

    // The actor is the login's member, with no --as; the history names the login.
    let c = person(&t, "tanaka", &["-v", "claim", "p1@example.com"]);
    ok(&c);
    assert!(
        stderr(&c).contains("LOGIN \"tanaka\" <password hidden>"),
        "{}",
        stderr(&c)
    );
    assert!(stderr(&c).contains("shared/support/"), "{}", stderr(&c));
    assert_eq!(dc.locate("p1@example.com")[0].0, "対応中/tanaka");
    let as_other = person(&t, "tanaka", &["--as", "suzuki", "claim", "p2@example.com"]);
    assert_eq!(code(&as_other), 2, "{}", stderr(&as_other));
    assert!(
        stderr(&as_other).contains("for the service login only"),
        "{}",
        stderr(&as_other)
    );
    let taken = person(&t, "hsuzuki", &["release", "p1@example.com"]);
    assert_eq!(code(&taken), 4, "{}", stderr(&taken));
    ok(&person(
        &t,
        "tanaka",
        &["note", "p1@example.com", "電話で確認中"],
    ));
    ok(&person(&t, "tanaka", &["done", "p1@example.com"]));
    assert_eq!(dc.locate("p1@example.com")[0].0, "完了");

    let h = ok(&t.run(&["history", "--since", "2000-01-01", "--format", "json"]));
    let evs: serde_json::Value = serde_json::from_str(&h).unwrap();
    let of = |kind: &str| {
        evs.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == kind && e["message_id"] == "p1@example.com")
            .cloned()
            .collect::<Vec<_>>()
    };
    for kind in ["claim", "note", "done"] {
        let e = of(kind);
        assert_eq!(e.len(), 1, "{kind}: {h}");
        assert_eq!(e[0]["actor"], "tanaka");
        assert_eq!(e[0]["login"], "tanaka", "{kind}: {}", e[0]);
    }
    let access: Vec<_> = evs
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "access")
        .collect();
    assert_eq!(access.len(), 3, "one grant per login: {h}");
    assert!(access.iter().all(|e| e["login"] == "support"));

    // A viewer reads but takes nothing.
    assert!(ok(&person(&t, "boss", &["list"])).contains("p2@example.com"));
    let v = person(&t, "boss", &["claim", "p2@example.com"]);
    assert_eq!(code(&v), 2, "{}", stderr(&v));
    assert!(stderr(&v).contains("viewers may look"), "{}", stderr(&v));
    // Members write events but cannot take one back: no flags, no deleting there.
    let theirs = ok(&person(&t, "tanaka", &["access"]));
    let hist = theirs
        .lines()
        .find(|l| l.contains("  対応履歴  "))
        .unwrap_or_else(|| panic!("{theirs}"));
    let rights = hist.rsplit("  ").next().unwrap();
    assert!(rights.contains('i') && rights.contains('r'), "{hist}");
    assert!(
        !rights.contains('t') && !rights.contains('e') && !rights.contains('w'),
        "{hist}"
    );
    let mine = ok(&person(&t, "boss", &["access"]));
    assert!(mine.contains("boss  INBOX  lr"), "{mine}");

    // The cron's service login works as before.
    ok(&t.run(&["rotate", "--apply"]));
    assert_eq!(dc.locate("p2@example.com")[0].0, "未対応");

    // suzuki leaves: the next init takes hsuzuki's rights back, and only theirs.
    let mut owner = Client::login(dc.imap_port);
    owner.ok("SETACL \"&W4xOhg-\" auditor lr");
    let rules = std::fs::read_to_string(&t.rules).unwrap();
    std::fs::write(
        &t.rules,
        rules.replace(
            "  suzuki: { name: 鈴木 花子, email: suzuki@example.jp, login: hsuzuki }\n",
            "",
        ),
    )
    .unwrap();
    let preview = ok(&t.run(&["access"]));
    assert!(preview.contains("would revoke hsuzuki"), "{preview}");
    let init = ok(&t.run(&["init"]));
    assert!(init.contains("revoked hsuzuki"), "{init}");
    let acl = owner.ok("GETACL \"&W4xOhg-\"").join(" ");
    assert!(
        acl.contains("auditor lr") && !acl.contains("hsuzuki"),
        "{acl}"
    );
    let gone = person(&t, "hsuzuki", &["list"]);
    assert_eq!(code(&gone), 2, "{}", stderr(&gone));
    assert!(
        stderr(&gone).contains("neither a member's login nor a viewer"),
        "{}",
        stderr(&gone)
    );
    // Even with rules that still name them (a stale copy), the server says no.
    let stale = Team::with_tail(
        &format!("  host: 127.0.0.1\n  port: {}\n  tls: none\n", dc.imap_port),
        MEMBERS,
        &format!("{ALWAYS_OPEN}sign_in: personal\n"),
    );
    std::fs::create_dir_all(stale.dir.path().join("people")).unwrap();
    std::fs::rename(
        t.dir.path().join("people/hsuzuki"),
        stale.dir.path().join("people/hsuzuki"),
    )
    .unwrap();
    let o = person(&stale, "hsuzuki", &["claim", "p2@example.com"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("ask the mailbox owner to run `mailduty init`"),
        "{}",
        stderr(&o)
    );
    assert_eq!(dc.locate("p2@example.com")[0].0, "未対応");
}

#[test]
fn a_member_without_a_right_is_told_who_to_ask() {
    let dc = Dovecot::start_shared();
    users(&dc, &["tanaka", "hsuzuki"]);
    let t = team(dc.imap_port, MEMBERS);
    ok(&t.run(&["init"]));
    sign_in(&t, "tanaka");
    dc.append("対応中/suzuki", "", &hours_ago(1), &mail("n1@example.com"));
    // The owner narrows tanaka's rights on suzuki's folder to reading.
    let mut owner = Client::login(dc.imap_port);
    owner.ok("SETACL \"&W,5f3E4t-/suzuki\" tanaka lr");
    let o = person(&t, "tanaka", &["release", "--force", "n1@example.com"]);
    assert_ne!(code(&o), 0, "{}", stdout(&o));
    let e = stderr(&o);
    assert!(
        e.contains("tanaka may not do this in the shared mailbox"),
        "{e}"
    );
    assert!(e.contains("mailduty init"), "{e}");
    assert_eq!(dc.locate("n1@example.com").len(), 1);
    assert_eq!(dc.locate("n1@example.com")[0].0, "対応中/suzuki");
}

#[test]
fn ten_members_signed_in_as_themselves_race_for_one_message() {
    let dc = Dovecot::start_shared();
    let n = 10;
    let logins: Vec<String> = (0..n).map(|i| format!("m{i:02}")).collect();
    let mut members = String::from("members:\n");
    for l in &logins {
        dc.add_user(l, &format!("pw-{l}"));
        members.push_str(&format!("  {l}: {{ name: Member {l}, login: {l} }}\n"));
    }
    let relay = Relay::start(dc.imap_port, "UNCHANGEDSINCE", n);
    let t = team(relay.port, &members);
    ok(&t.run(&["init"]));
    for l in &logins {
        sign_in(&t, l);
    }
    for round in 0..3 {
        let mid = format!("race-{round}@test.example");
        dc.append("未対応", "", &hours_ago(1), &mail(&mid));
        let before = relay.full_releases();
        let kids: Vec<_> = logins
            .iter()
            .map(|l| {
                t.command(&["claim", &format!("<{mid}>")])
                    .env("XDG_CONFIG_HOME", t.dir.path().join("people").join(l))
                    .env(format!("PW_{l}"), format!("pw-{l}"))
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outs: Vec<Output> = kids
            .into_iter()
            .map(|k| k.wait_with_output().unwrap())
            .collect();
        assert_eq!(
            relay.full_releases(),
            before + 1,
            "round {round}: not all met at the barrier"
        );
        let won = outs.iter().filter(|o| code(o) == 0).count();
        for o in outs.iter().filter(|o| code(o) != 0) {
            assert_eq!(code(o), 4, "round {round}: {}", stderr(o));
        }
        assert_eq!(won, 1, "round {round}");
        let places = dc.locate(&mid);
        assert_eq!(places.len(), 1, "round {round}: {places:?}");
        assert!(places[0].0.starts_with("対応中/m"), "{places:?}");
    }
}

#[test]
fn a_drag_by_a_member_in_their_mail_client_is_credited() {
    let dc = Dovecot::start_shared();
    users(&dc, &["tanaka", "hsuzuki"]);
    let t = team(dc.imap_port, MEMBERS);
    ok(&t.run(&["init"]));
    dc.append("未対応", "", &hours_ago(1), &mail("d1@example.com"));
    ok(&t.run(&["rotate", "--apply"]));
    // tanaka's Thunderbird, signed in as tanaka, drags it into their folder.
    let mut tb = Client::login_as(dc.imap_port, "tanaka", "pw-tanaka");
    tb.ok("SELECT \"shared/support/&Zypb,l,c-\"");
    tb.ok("UID MOVE 1:* \"shared/support/&W,5f3E4t-/tanaka\"");
    ok(&t.run(&["rotate", "--apply"]));
    let evs = t.events();
    let claim: Vec<_> = evs
        .iter()
        .filter(|e| e["event"] == "claim" && e["message_id"] == "d1@example.com")
        .collect();
    assert_eq!(claim.len(), 1, "{evs:?}");
    assert_eq!(claim[0]["actor"], "client");
}

#[test]
fn a_server_without_acls_says_so_at_init() {
    let dc = Dovecot::start();
    let t = team(dc.imap_port, MEMBERS);
    let o = t.run(&["init"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stdout(&o).contains("granted"), "{}", stdout(&o));
    // `access` has nothing to show there and says why.
    let a = t.run(&["access"]);
    assert_eq!(code(&a), 1, "{}", stdout(&a));
    assert!(
        stderr(&a).contains("no access control lists"),
        "{}",
        stderr(&a)
    );
    assert!(
        stderr(&o).contains("no access control lists"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("keep sign_in: shared"),
        "{}",
        stderr(&o)
    );
    // The same team with sign_in: shared is set up as before.
    let rules = std::fs::read_to_string(&t.rules).unwrap();
    std::fs::write(
        &t.rules,
        rules.replace("sign_in: personal\nviewers: [boss]\n", ""),
    )
    .unwrap();
    assert!(ok(&t.run(&["init"])).contains("all status folders exist"));
}
