//! The one definition of the command line. Doc comments are the help text; the man
//! pages and shell completions are generated from this file.
//!
//! Part of the command layer: used by `cmd`; uses `complete` for dynamic values and
//! the types of `output` and the desk's queue that flags name.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::ArgValueCompleter;

use crate::complete;
pub use crate::output::Format;

use crate::desk::queue::Status;

/// Shared-mailbox duty for teams on one IMAP account: status folders, a duty roster,
/// and nothing marked read behind anyone's back.
///
/// State lives on the IMAP server: 未対応 (unclaimed), 対応中/<member> (claimed), 保留
/// (held), 完了 (done) and 対応不要 (dismissed). Every change is recorded in the
/// history folder 対応履歴.
const AFTER_LONG_HELP: &str = "\
Examples:
  mailduty init
  mailduty list --overdue
  mailduty claim 4k2q9x7m
  mailduty list --overdue --format ids | mailduty claim -

Exit codes:
  0  success
  1  failure: server unreachable, login refused, TLS certificate refused (expired, for another host, unknown issuer), IMAP error
  2  usage or configuration error (bad flags, bad rules file, unknown member); nothing was sent to the server
  3  not found: no message has that ID, or an ID prefix is ambiguous
  4  conflict: the message is claimed by someone else, or another claimer won

Environment:
  MAILDUTY_RULES   the rules file, when --rules is not given
  MAILDUTY_MEMBER  who \"me\" is, when --as is not given
  MAILDUTY_NOW     the time rotate --apply and hold --until take as now (RFC 3339); for tests
  USER             else \"me\" is the member whose login is $USER
  XDG_CONFIG_HOME  the rules file is looked for in $XDG_CONFIG_HOME/mailduty/rules.yaml
  NO_COLOR         no colour even on a terminal
  COMPLETE         set to bash, zsh or fish: print the dynamic completion script
                   (members and message IDs), e.g. source <(COMPLETE=bash mailduty)

Files:
  $XDG_CONFIG_HOME/mailduty/rules.yaml, then /etc/mailduty/rules.yaml
  $XDG_CONFIG_HOME/mailduty/login.yaml  a member's own sign-in (sign_in: personal), 0600
  $XDG_STATE_HOME/mailduty/oauth2-<user>.json  an OAuth 2.0 refresh token (mailduty login), 0600
  $XDG_CACHE_HOME/mailduty/quiet-*.json  what the last rotate --apply with nothing to do saw
  $XDG_CACHE_HOME/mailduty/heads-*.json  the header fields the last rotate --apply read, 0600
                   (optimisations only: delete them and the next run reads everything)
  On the IMAP server: 未対応, 対応中/<member>, 保留, 完了, 対応不要 and 対応履歴 (names set in rules.yaml),
  and 対応履歴/新着 on servers with MOVE (new events until rotate --apply moves them in)

Servers:
  Dovecot; Courier-IMAP (folders INBOX.未対応 …, no MOVE, no CONDSTORE); servers without
  custom keywords (Exchange): nothing depends on a keyword surviving.";

#[derive(Debug, Parser)]
#[command(name = "mailduty", version = crate::version_line(), propagate_version = true)]
#[command(
    after_help = "Examples:\n  mailduty init\n  mailduty list --overdue\n  mailduty claim 4k2q9x7m\n  mailduty list --overdue --format ids | mailduty claim -"
)]
#[command(after_long_help = AFTER_LONG_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The rules file [default: $MAILDUTY_RULES, $XDG_CONFIG_HOME/mailduty/rules.yaml, /etc/mailduty/rules.yaml]
    #[arg(long, global = true, value_name = "PATH")]
    pub rules: Option<PathBuf>,
    /// Act as this member [default: $MAILDUTY_MEMBER, else the member whose login is $USER]
    #[arg(long = "as", global = true, value_name = "NAME", add = ArgValueCompleter::new(complete::members))]
    pub as_member: Option<String>,
    /// Print the IMAP commands sent and received, and each notification's host and HTTP status, on stderr (passwords, webhook URLs and tokens hidden)
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Print nothing on success
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the status folders on the server and show what it supports
    ///
    /// Creates 未対応, 対応中, one 対応中/<member> per member, 完了, 保留, 対応不要,
    /// 対応履歴 and (on servers with MOVE) 対応履歴/新着 where missing. Running it
    /// again changes nothing.
    #[command(after_help = "Example:\n  mailduty --rules ./rules.yaml init")]
    Init,
    /// Sign in with OAuth 2.0 (Microsoft 365, Google Workspace) and keep the token here
    ///
    /// For an account whose rules say `oauth2:` with a provider: runs the rules' flow
    /// and stores the refresh token in a 0600 file of its own (`oauth2.token_file`,
    /// default $XDG_STATE_HOME/mailduty/oauth2-<user>.json), never in the rules file.
    /// `flow: device` prints an address and a code to enter on any device;
    /// `flow: browser` prints an address to open and waits for the browser to come back
    /// to 127.0.0.1 (on a machine without a browser, open it elsewhere and paste the
    /// address the browser was sent to); `flow: client_credentials` needs no person.
    /// Then it signs in to the IMAP server to check. Every later command refreshes the
    /// access token when it is within 5 minutes of expiry and writes a rotated refresh
    /// token back. An expired or revoked sign-in says to run `mailduty login` again.
    ///
    /// With `sign_in: personal` it signs in the person running it instead: it asks for
    /// the login and the password (never echoed; or --password-command/-env/-file),
    /// checks them by signing in to the shared mailbox, and keeps them in
    /// $XDG_CONFIG_HOME/mailduty/login.yaml (0600). A login.yaml with an `oauth2:`
    /// block runs that block's flow.
    #[command(
        after_help = "Examples:\n  mailduty login\n  mailduty login --smtp    # digest.smtp.oauth2 when it has a block of its own\n  mailduty login --login tanaka@example.co.jp --password-command 'pass show mail/tanaka'   # sign_in: personal"
    )]
    Login(LoginArgs),
    /// Run `rotate --apply` within seconds of new mail, as a long-running service
    ///
    /// Waits with IMAP IDLE on the inbox and on Sent (one connection each) and, on
    /// news, runs exactly what `rotate --apply` runs: intake, hand-out, thread and route
    /// rules, replies found in Sent, notifications; on a timer (--every) as well, for
    /// what depends on the clock (overdue alerts, held mail coming due, moves made in
    /// mail clients, the journal). So it replaces the rotate timer; a watch beside a
    /// cron run or another watch never files or hands out a message twice. A broken
    /// connection is made again with growing pauses (1 s to 60 s) and what arrived
    /// meanwhile is caught up on; an OAuth token is refreshed on every new connection.
    /// The rules file is read again when it changes or on SIGHUP (a broken edit keeps
    /// the old rules, with a warning; a change of `imap:` itself takes effect at the
    /// next start). SIGTERM ends it after the run under way; a run
    /// cut short anyway is finished by the next one. Prints one line per action and
    /// per connection change; -q prints errors only.
    #[command(
        after_help = "Examples:\n  mailduty watch\n  mailduty watch --every 10m\n  systemctl enable --now mailduty-watch.service   # instead of mailduty-rotate.timer"
    )]
    Watch(WatchArgs),
    /// Show who may do what in the shared mailbox, and what `init` would change
    ///
    /// As the service login (the mailbox owner): each member's and viewer's rights on
    /// every shared folder (GETACL), and the grants and revocations `init` would make
    /// (a login mailduty granted that the rules no longer name is a leaver). As a
    /// member signed in as themselves: your own rights (MYRIGHTS). Changes nothing.
    #[command(
        after_help = "Examples:\n  mailduty access\n  mailduty access --json | jq '.changes'"
    )]
    Access(AccessArgs),
    /// Forget this machine's sign-in: the OAuth 2.0 token file, or the personal login.yaml
    ///
    /// The provider may still list the app as allowed: revoke it there to end every
    /// machine's sign-in at once. With `sign_in: personal` it removes login.yaml (and
    /// the password file `login` kept beside it, or the token file of its oauth2 block).
    #[command(after_help = "Example:\n  mailduty logout")]
    Logout(LoginArgs),
    /// Validate the rules file without connecting to the server
    ///
    /// Lists every problem with file, line and column, and exits 2 if there is any:
    /// unknown or repeated keys, status folders that overlap (equal, inside one
    /// another, or differing only in case) or hold * % or empty parts, addresses that
    /// are not addresses, line breaks in anything sent to a server, a ca_file that is
    /// not PEM. A file over 1 MiB or nested over 64 deep is refused unread. A notify
    /// target whose *_env variable is unset here or whose *_file cannot be read is a
    /// warning (exit 0): cron's environment may differ; its value is never shown.
    #[command(after_help = "Example:\n  mailduty check --rules /etc/mailduty/rules.yaml")]
    Check,
    /// Show the queue: ID, status, owner, age, sender and subject
    ///
    /// Reads the inbox, 未対応, every 対応中 folder and 保留 (and 完了 or 対応不要 with
    /// --status done, dismissed or all). Held and dismissed mail is never overdue.
    /// Nothing is marked read.
    #[command(
        after_help = "Examples:\n  mailduty list\n  mailduty list --mine\n  mailduty list --status unclaimed --overdue --format ids\n  mailduty list --format json | jq '.[].subject'"
    )]
    List(ListArgs),
    /// Take messages: unclaimed (or held) → 対応中/<me>
    ///
    /// Race-free: when several people claim one message at once, exactly one gets it and
    /// the others are told who did (exit 4).
    #[command(
        after_help = "Examples:\n  mailduty claim 4k2q9x7m\n  mailduty list --overdue --format ids | mailduty claim -"
    )]
    Claim(IdArgs),
    /// Give messages back: 対応中/<me> (or 保留) → 未対応
    #[command(
        after_help = "Examples:\n  mailduty release 4k2q9x7m\n  mailduty release --force 4k2q9x7m   # someone else's"
    )]
    Release(ForceIdArgs),
    /// Finish messages: from any status (対応中, 未対応, 保留, 対応不要) → 完了
    #[command(after_help = "Example:\n  mailduty done 4k2q9x7m")]
    Done(ForceIdArgs),
    /// Put messages on hold (保留): waiting on the customer or on someone
    ///
    /// Moves them to 保留 (folders.held). The owner stays the owner (a claimed message's
    /// member, else you), and the history says who held it and until when. Held mail is
    /// never overdue and its waiting time is left out of the response-time figures.
    /// `rotate --apply` gives it back to the owner's folder (未対応 when the owner is no
    /// longer a member) once --until comes, or at once when the customer replies in the
    /// thread; an out-of-office reply does not count. `claim`, `release` and `done`
    /// work on held mail too. Holding held mail again records the new --until or note.
    ///
    /// --until takes a date (2026-12-10: the start of that business day), a date and
    /// time in the rules' time zone ("2026-12-10 14:00"), RFC 3339 with an offset, or
    /// business time from now: 3d (three business days later), 4h, 1d4h.
    #[command(
        after_help = "Examples:\n  mailduty hold 4k2q9x7m --until 3d --note \"見積もりの返事待ち\"\n  mailduty hold 4k2q9x7m --until \"2026-12-10 14:00\"\n  mailduty hold 4k2q9x7m 7w3n2p0a"
    )]
    Hold(HoldArgs),
    /// Mark messages as needing no reply (対応不要): spam, notices, thanks-only mail
    ///
    /// Moves them to 対応不要 (folders.dismissed): out of every queue count, SLA and
    /// figure, never deleted. A customer's later mail in the thread is new mail like
    /// any other. `rotate --apply` puts automated mail there by itself (see `automated:`
    /// in the rules); `list --status dismissed` shows why each message is there.
    #[command(
        after_help = "Examples:\n  mailduty dismiss 4k2q9x7m --note \"お礼のみ\"\n  mailduty dismiss 4k2q9x7m 7w3n2p0a"
    )]
    Dismiss(DismissArgs),
    /// Show who is on duty, or apply the roster to the mailbox (for cron)
    ///
    /// Without --apply: today's duty, or that of --date, or a table of the coming --days
    /// with weekday and holiday, to review the roster before committing it.
    ///
    /// With --apply: gives back held mail whose --until came or whose customer wrote;
    /// puts automated mail (out-of-office, bounces, bulk, its own digest; see
    /// `automated:`) and mail a route dismisses into 対応不要; files new inbox mail into
    /// 未対応; sends follow-ups to the owner of their thread (threads: true) and mail
    /// matching a route to the route's owner; with assign: duty hands unclaimed mail to
    /// the member(s) on duty, each to whoever has the fewest open claims (new mail goes
    /// to them straight from the inbox, recorded as one `assign`, not a `file` and an
    /// `assign`). Every move is recorded in the history folder. Safe to run every few
    /// minutes: a second run moves nothing new. On a holiday it files but does not
    /// assign. Messages bound for one place move together, in a few round trips however
    /// many there are; at most 5,000 new messages are taken from the inbox (and 5,000
    /// more handed out from 未対応) per run, and the summary counts the rest as left for
    /// the next run.
    ///
    /// It also records what mail clients did: replies filed in Sent since the last run
    /// (a `reply` event; 二重対応 as `double_reply`; `on_reply` says whether the message
    /// also moves) and messages dragged into a member folder, 保留, 完了 or 対応不要 (a
    /// claim, hold, done or dismiss by `client`). Sent is only read, never changed.
    ///
    /// Last, it moves the events other commands wrote to 対応履歴/新着 since the last
    /// run into 対応履歴 (one UID MOVE), so that a claim's event always goes to a small
    /// folder, whatever the history's size.
    #[command(
        after_help = "Examples:\n  mailduty rotate\n  mailduty rotate --days 14\n  mailduty rotate --date 2026-12-24 --format json\n  */5 * * * *  mailduty rotate --apply --quiet   # crontab"
    )]
    Rotate(RotateArgs),
    /// The daily digest: overdue mail, stale claims, counts, duty, response times
    ///
    /// Prints the digest; with --send mails it (plain text and HTML) to digest.to and
    /// digest.cc over SMTP or sendmail, at most once a day per mailbox (the marker is
    /// kept in the history folder) and not on holidays, unless --force. Ages count
    /// business hours.
    #[command(
        after_help = "Examples:\n  mailduty report\n  mailduty report --format json | jq '.overdue[].id'\n  30 8 * * *  mailduty report --send --quiet   # crontab"
    )]
    Report(ReportArgs),
    /// Send chat notifications (Slack, Teams, Chatwork, webhook) that are pending
    ///
    /// Events (assign, claim, release, done, hold, unhold, overdue, reply, double_reply,
    /// digest) are
    /// sent to the targets under notify: in rules.yaml by the command that caused them;
    /// one that failed stays pending in the history folder for three days and is sent
    /// by the next `claim`, `release`, `done`, `rotate --apply`, `report --send` or
    /// `notify`, from any machine, once per target. `notify` exits 1 when a delivery
    /// failed (it stays pending). With --test, one test message goes to every target
    /// without connecting to the IMAP server, and each target's result is shown (exit 1
    /// if any failed). Webhook URLs and tokens are never printed, not with -v either.
    #[command(
        after_help = "Examples:\n  mailduty notify --test\n  mailduty notify            # send what is pending"
    )]
    Notify(NotifyArgs),
    /// Show one message: headers, text body, status, owner and history
    ///
    /// Nothing is marked read (BODY.PEEK). HTML-only mail is shown as text. Control
    /// characters from the mail are shown as escapes (\x1b, \r, \u{9b}), never sent
    /// to the terminal; header values stay on one line, the body keeps its lines
    /// and tabs.
    #[command(
        after_help = "Examples:\n  mailduty show 4k2q9x7m\n  mailduty show 4k2q9x7m --format json | jq .history"
    )]
    Show(ShowArgs),
    /// The history of one message, or of everything since a date
    ///
    /// Reads the events (claim, release, done, hold, unhold, dismiss, file, assign, note,
    /// digest, archive, overdue, reply, double_reply, scan) from the
    /// history folder; with --all also from the archived history folders. The table leaves
    /// out scan, the mail-client step's bookmark; JSON has every event.
    #[command(
        after_help = "Examples:\n  mailduty history 4k2q9x7m\n  mailduty history --since 2026-11-01 --actor tanaka\n  mailduty history --since 2026-11-01 --format json"
    )]
    History(HistoryArgs),
    /// Add an internal note (申し送り) to a message, kept in the history folder
    #[command(
        after_help = "Example:\n  mailduty note 4k2q9x7m \"電話で回答済み。請求書は明日発行\""
    )]
    Note(NoteArgs),
    /// Move old 完了 mail (and, if configured, old history) into per-year folders
    ///
    /// Mail in 完了 that arrived more than archive.after ago (default 365d) goes to
    /// archive.folder (default 完了/{year}) by its arrival year; history events older
    /// than archive.history_after likewise. Server-side SEARCH and batched MOVE; a run
    /// cut part-way is finished by the next one. IDs stay the same, and `show --all` and
    /// `history --all` still find archived mail and events.
    #[command(
        after_help = "Examples:\n  mailduty archive --dry-run\n  mailduty archive\n  # crontab, monthly: 0 3 1 * *  mailduty --rules /etc/mailduty/rules.yaml archive --quiet"
    )]
    Archive(ArchiveArgs),
    /// Print a shell completion script (commands and flags)
    ///
    /// The script is static. For member names after --as/--owner/--actor and message
    /// IDs from the server as well, load the dynamic completion instead, e.g. in
    /// ~/.bashrc: source <(COMPLETE=bash mailduty) (zsh: the same with COMPLETE=zsh;
    /// fish: COMPLETE=fish mailduty | source).
    #[command(
        after_help = "Examples:\n  mailduty completions bash > /etc/bash_completion.d/mailduty\n  mailduty completions zsh > ~/.zfunc/_mailduty\n  mailduty completions fish > ~/.config/fish/completions/mailduty.fish\n  echo 'source <(COMPLETE=bash mailduty)' >> ~/.bashrc   # with members and IDs"
    )]
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct HoldArgs {
    #[command(flatten)]
    pub ids: IdArgs,
    /// When it comes back: 2026-12-10, "2026-12-10 14:00", RFC 3339, or business time (3d, 4h)
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Why it waits, kept in the history
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
}

#[derive(Debug, Args)]
pub struct DismissArgs {
    #[command(flatten)]
    pub ids: IdArgs,
    /// Why it needs no reply, kept in the history and shown by `list --status dismissed`
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Mail the digest instead of printing it
    #[arg(long)]
    pub send: bool,
    /// Send even if today's digest was already sent, today is a holiday, or nothing is overdue
    #[arg(long, requires = "send")]
    pub force: bool,
    /// Output format (without --send)
    #[arg(long, value_enum, default_value_t = RotateFormat::Table, conflicts_with = "send")]
    pub format: RotateFormat,
}

#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// Send one test message to every target and say which worked
    #[arg(long)]
    pub test: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Message ID, unique ID prefix or full Message-ID
    #[arg(value_name = "ID", add = ArgValueCompleter::new(complete::ids))]
    pub id: String,
    /// Look in the archive folders too (and show archived history events)
    #[arg(long)]
    pub all: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = RotateFormat::Table)]
    pub format: RotateFormat,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The message whose events to show
    #[arg(value_name = "ID", required_unless_present = "since", add = ArgValueCompleter::new(complete::ids))]
    pub id: Option<String>,
    /// Events on or after this day (YYYY-MM-DD, in the rules' time zone)
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub since: Option<chrono::NaiveDate>,
    /// Only events by this member (or "rotate" for the roster's moves)
    #[arg(long, value_name = "NAME", add = ArgValueCompleter::new(complete::members))]
    pub actor: Option<String>,
    /// Look in the archive folders too: archived mail and archived events
    #[arg(long)]
    pub all: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = RotateFormat::Table)]
    pub format: RotateFormat,
}

#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// Print what would move, move nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = RotateFormat::Table)]
    pub format: RotateFormat,
}

#[derive(Debug, Args)]
pub struct NoteArgs {
    /// Message ID, unique ID prefix or full Message-ID
    #[arg(value_name = "ID", add = ArgValueCompleter::new(complete::ids))]
    pub id: String,
    /// The note
    #[arg(value_name = "TEXT")]
    pub text: String,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// How often to run for what depends on the clock, news or not (10s or more)
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub every: String,
}

#[derive(Debug, Args)]
pub struct AccessArgs {
    /// JSON instead of lines
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The digest's SMTP sign-in (digest.smtp.oauth2) instead of the IMAP one
    #[arg(long)]
    pub smtp: bool,
    /// With sign_in: personal, the login to sign in as (asked when not given)
    #[arg(long, value_name = "LOGIN")]
    pub login: Option<String>,
    /// With sign_in: personal, a command that prints your password (else it is asked for, not echoed, and kept in a 0600 file)
    #[arg(long, value_name = "COMMAND", conflicts_with_all = ["password_env", "password_file"])]
    pub password_command: Option<String>,
    /// With sign_in: personal, an environment variable holding your password
    #[arg(long, value_name = "VAR", conflicts_with = "password_file")]
    pub password_env: Option<String>,
    /// With sign_in: personal, a file holding your password
    #[arg(long, value_name = "PATH")]
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write the script for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The day to show instead of today (YYYY-MM-DD, in the rules' time zone)
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub date: Option<chrono::NaiveDate>,
    /// Show this many days from the date on
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=3660))]
    pub days: Option<u32>,
    /// File inbox mail and hand out unclaimed mail as the rules say
    #[arg(long, conflicts_with_all = ["date", "days"])]
    pub apply: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = RotateFormat::Table)]
    pub format: RotateFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RotateFormat {
    Table,
    Json,
}

fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("{s:?} is not a date like 2026-12-24"))
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Which messages to show
    #[arg(long, value_enum, default_value_t = StatusFilter::Active)]
    pub status: StatusFilter,
    /// Only messages claimed by me
    #[arg(long, conflicts_with = "owner")]
    pub mine: bool,
    /// Only messages claimed by this member
    #[arg(long, value_name = "NAME", add = ArgValueCompleter::new(complete::members))]
    pub owner: Option<String>,
    /// Only unclaimed messages older than sla.unclaimed (never held, dismissed or automated mail)
    #[arg(long)]
    pub overdue: bool,
    /// Only messages two or more people replied to (二重対応)
    #[arg(long)]
    pub double: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFilter {
    /// Unclaimed, claimed and held
    Active,
    Unclaimed,
    Claimed,
    /// 保留: waiting on the customer or on someone
    Held,
    Done,
    /// 対応不要: needs no reply
    Dismissed,
    /// Everything, 完了 and 対応不要 included
    All,
}

impl StatusFilter {
    pub fn admits(self, s: Status) -> bool {
        match self {
            StatusFilter::Active => !matches!(s, Status::Done | Status::Dismissed),
            StatusFilter::Unclaimed => s == Status::Unclaimed,
            StatusFilter::Claimed => s == Status::Claimed,
            StatusFilter::Held => s == Status::Held,
            StatusFilter::Done => s == Status::Done,
            StatusFilter::Dismissed => s == Status::Dismissed,
            StatusFilter::All => true,
        }
    }
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// Message IDs, unique ID prefixes or full Message-IDs; `-` reads them from stdin
    #[arg(required = true, value_name = "ID", add = ArgValueCompleter::new(complete::ids))]
    pub ids: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ForceIdArgs {
    #[command(flatten)]
    pub ids: IdArgs,
    /// Act even on a message claimed by someone else
    #[arg(long)]
    pub force: bool,
}
