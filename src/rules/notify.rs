//! `notify:` in rules.yaml: the serde mirror of one target, its validation into a
//! `Target`, and which targets want an event. A webhook URL or an API token is a
//! secret, read from an env variable, a command or a file; written in the rules it is
//! refused unless the file is private.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{Hidden, Rules, Secret, parse_duration};

/// Every event a target can ask for; a target without `events:` gets them all.
/// `reply` and `double_reply` are the history's events of replies found in Sent.
pub const EVENTS: &[&str] = &[
    "assign",
    "claim",
    "release",
    "done",
    "hold",
    "unhold",
    "overdue",
    "reply",
    "double_reply",
    "digest",
];

impl Rules {
    /// The names of the targets that want events of `kind`.
    pub fn wanting(&self, kind: &str) -> Vec<String> {
        self.notify
            .iter()
            .filter(|t| t.wants(kind))
            .map(|t| t.name.clone())
            .collect()
    }
}

/// How long one delivery may take, connection to last byte, unless `timeout:` says.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    slack: Option<RawHook>,
    teams: Option<RawHook>,
    chatwork: Option<RawChatwork>,
    webhook: Option<RawUrl>,
    name: Option<String>,
    events: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHook {
    webhook_env: Option<String>,
    webhook_command: Option<Hidden>,
    webhook_file: Option<PathBuf>,
    webhook: Option<Hidden>,
    endpoint: Option<String>,
    ca_file: Option<PathBuf>,
    timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChatwork {
    room: Option<u64>,
    token_env: Option<String>,
    token_command: Option<Hidden>,
    token_file: Option<PathBuf>,
    token: Option<Hidden>,
    endpoint: Option<String>,
    ca_file: Option<PathBuf>,
    timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUrl {
    url_env: Option<String>,
    url_command: Option<Hidden>,
    url_file: Option<PathBuf>,
    url: Option<Hidden>,
    endpoint: Option<String>,
    ca_file: Option<PathBuf>,
    timeout: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Slack,
    Teams,
    Chatwork { room: u64 },
    Webhook,
}

impl Kind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Slack => "slack",
            Kind::Teams => "teams",
            Kind::Chatwork { .. } => "chatwork",
            Kind::Webhook => "webhook",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    /// What the history's pending and delivered marks call it: `name:`, else the kind
    /// (`slack`, then `slack-2` for a second Slack target).
    pub name: String,
    pub kind: Kind,
    /// The webhook URL (Slack, Teams, webhook) or the API token (Chatwork).
    pub secret: Secret,
    /// Where the secret came from, for messages (`notify.slack.webhook_env`).
    pub secret_key: String,
    /// Scheme, host and port that replace the URL's (a proxy, a test server); for
    /// Chatwork the API's base URL.
    pub endpoint: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
    pub events: Vec<String>,
}

impl Target {
    pub fn wants(&self, kind: &str) -> bool {
        self.events.iter().any(|e| e == kind)
    }
}

struct Common {
    endpoint: Option<String>,
    ca_file: Option<PathBuf>,
    timeout: Option<String>,
}

/// Validated targets; each problem goes to `problem(keys, message)`, which names the
/// file and line.
pub fn targets(
    raw: Vec<RawTarget>,
    private: bool,
    problem: &mut dyn FnMut(&[&str], String),
) -> Vec<Target> {
    let mut out: Vec<Target> = Vec::new();
    for (i, t) in raw.into_iter().enumerate() {
        let n = i + 1;
        let given = [
            t.slack.is_some(),
            t.teams.is_some(),
            t.chatwork.is_some(),
            t.webhook.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if given != 1 {
            problem(
                &["notify"],
                format!(
                    "target {n}: give exactly one of slack:, teams:, chatwork: or webhook: (found {given})"
                ),
            );
            continue;
        }
        let (kind, sources, common, field) = if let Some(h) = t.slack {
            (Kind::Slack, hook_sources(&h), hook_common(h), "webhook")
        } else if let Some(h) = t.teams {
            (Kind::Teams, hook_sources(&h), hook_common(h), "webhook")
        } else if let Some(c) = t.chatwork {
            let Some(room) = c.room else {
                problem(
                    &["notify", "chatwork"],
                    format!(
                        "target {n}: room: is missing (the number in the room's URL, #!rid123456)"
                    ),
                );
                continue;
            };
            let sources = vec![
                c.token_command
                    .map(|v| ("token_command", Secret::Command(v.0))),
                c.token_env.map(|v| ("token_env", Secret::Env(v))),
                c.token_file.map(|v| ("token_file", Secret::File(v))),
                c.token.map(|v| ("token", Secret::Plain(v.0))),
            ];
            let common = Common {
                endpoint: c.endpoint,
                ca_file: c.ca_file,
                timeout: c.timeout,
            };
            (Kind::Chatwork { room }, sources, common, "token")
        } else {
            let u = t.webhook.expect("one kind is given");
            let sources = vec![
                u.url_command.map(|v| ("url_command", Secret::Command(v.0))),
                u.url_env.map(|v| ("url_env", Secret::Env(v))),
                u.url_file.map(|v| ("url_file", Secret::File(v))),
                u.url.map(|v| ("url", Secret::Plain(v.0))),
            ];
            let common = Common {
                endpoint: u.endpoint,
                ca_file: u.ca_file,
                timeout: u.timeout,
            };
            (Kind::Webhook, sources, common, "url")
        };
        let k = kind.as_str();
        let sources: Vec<(&str, Secret)> = sources.into_iter().flatten().collect();
        let secret: Option<(String, Secret)> = match sources.as_slice() {
            [] => {
                problem(
                    &["notify", k],
                    format!(
                        "target {n}: no {field} source: set one of {field}_env, {field}_command or {field}_file"
                    ),
                );
                None
            }
            [(key, Secret::Plain(_))] if !private => {
                problem(
                    &["notify", k, key],
                    format!(
                        "target {n}: a plaintext {field} is refused while the rules file is readable by group or others (chmod 600 it, or use {field}_env, {field}_command or {field}_file)"
                    ),
                );
                None
            }
            [(key, s)] => Some((format!("notify.{k}.{key}"), s.clone())),
            many => {
                let names: Vec<&str> = many.iter().map(|(k, _)| *k).collect();
                problem(
                    &["notify", k],
                    format!(
                        "target {n}: give only one {field} source, not {}",
                        names.join(" and ")
                    ),
                );
                None
            }
        };
        if let Some(e) = &common.endpoint
            && let Err(why) = check_endpoint(e)
        {
            problem(&["notify", k, "endpoint"], format!("target {n}: {why}"));
        }
        if let Some(ca) = &common.ca_file
            && !ca.is_file()
        {
            problem(
                &["notify", k, "ca_file"],
                format!("target {n}: {} is not a readable file", ca.display()),
            );
        }
        let timeout = match common.timeout.as_deref() {
            None => DEFAULT_TIMEOUT,
            Some(s) => match parse_duration(s).filter(|d| !d.is_zero() && d.as_secs() <= 60) {
                Some(d) => d,
                None => {
                    problem(
                        &["notify", k, "timeout"],
                        format!("target {n}: {s:?} is not a duration from 1s to 60s (like 5s)"),
                    );
                    DEFAULT_TIMEOUT
                }
            },
        };
        let events = match t.events {
            None => EVENTS.iter().map(|e| e.to_string()).collect(),
            Some(list) => {
                for e in &list {
                    if !EVENTS.contains(&e.as_str()) {
                        let hint = crate::rules::did_you_mean(e, EVENTS.iter().copied())
                            .map(|s| format!("; did you mean {s}?"))
                            .unwrap_or_default();
                        problem(
                            &["notify", "events"],
                            format!(
                                "target {n}: {e:?} is not an event (events: {}){hint}",
                                EVENTS.join(", ")
                            ),
                        );
                    }
                }
                list
            }
        };
        let name = match t.name {
            Some(name) => {
                let ok = !name.is_empty()
                    && name.len() <= 40
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !ok {
                    problem(
                        &["notify", "name"],
                        format!(
                            "target {n}: name {name:?}: use ASCII letters, digits, - and _ (it is stored in the history)"
                        ),
                    );
                }
                if out.iter().any(|o| o.name == name) {
                    problem(
                        &["notify", "name"],
                        format!("target {n}: name {name:?} is used twice"),
                    );
                }
                name
            }
            None => {
                let mut name = k.to_string();
                let mut i = 2;
                while out.iter().any(|o| o.name == name) {
                    name = format!("{k}-{i}");
                    i += 1;
                }
                name
            }
        };
        let Some(secret) = secret else {
            continue;
        };
        out.push(Target {
            name,
            kind,
            secret: secret.1,
            secret_key: secret.0,
            endpoint: common.endpoint,
            ca_file: common.ca_file,
            timeout,
            events,
        });
    }
    out
}

/// What `check` can see of each target's secret without using it: an environment
/// variable that is not set, a file that cannot be read. Warnings, not errors: cron's
/// environment may differ from the shell's. Never the value, only where it is looked for.
pub fn source_warnings(targets: &[Target]) -> Vec<String> {
    let mut out = Vec::new();
    for t in targets {
        match &t.secret {
            Secret::Env(var) if std::env::var_os(var).is_none_or(|v| v.is_empty()) => {
                out.push(format!(
                    "{}: the environment variable {var} is not set here; notifications to {} wait until it is (set it where cron runs mailduty too)",
                    t.secret_key, t.name
                ));
            }
            Secret::File(path) => {
                if let Err(e) = std::fs::File::open(path) {
                    out.push(format!(
                        "{}: cannot read {}: {}; notifications to {} wait until it can be read",
                        t.secret_key,
                        path.display(),
                        e.kind(),
                        t.name
                    ));
                }
            }
            _ => {}
        }
    }
    out
}

fn hook_sources(h: &RawHook) -> Vec<Option<(&'static str, Secret)>> {
    vec![
        h.webhook_command
            .clone()
            .map(|v| ("webhook_command", Secret::Command(v.0))),
        h.webhook_env
            .clone()
            .map(|v| ("webhook_env", Secret::Env(v))),
        h.webhook_file
            .clone()
            .map(|v| ("webhook_file", Secret::File(v))),
        h.webhook.clone().map(|v| ("webhook", Secret::Plain(v.0))),
    ]
}

fn hook_common(h: RawHook) -> Common {
    Common {
        endpoint: h.endpoint,
        ca_file: h.ca_file,
        timeout: h.timeout,
    }
}

/// An endpoint is a scheme and a host (and a port): `https://proxy.example.jp:8443`.
/// Plain http only to a loopback host, since the request carries the secret.
pub fn check_endpoint(e: &str) -> Result<(), String> {
    let Some(url) = crate::https::Url::parse(e) else {
        return Err(format!(
            "{e:?} is not a URL like https://host[:port] (the path, if any, is kept)"
        ));
    };
    if !url.https && !crate::rules::is_loopback(&url.host) {
        return Err(format!(
            "{e:?}: plain http sends the secret in clear text; it is allowed only for a loopback host (use https)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str, private: bool) -> (Vec<Target>, Vec<String>) {
        let raw: Vec<RawTarget> = serde_yaml::from_str(yaml).unwrap();
        let mut problems = Vec::new();
        let t = targets(raw, private, &mut |k, m| {
            problems.push(format!("{}: {m}", k.join(".")))
        });
        (t, problems)
    }

    #[test]
    fn targets_get_names_defaults_and_their_secret_source() {
        let (t, p) = check(
            "- slack: { webhook_env: A }\n- slack: { webhook_file: /x, timeout: 2s }\n  events: [claim, overdue]\n- chatwork: { room: 42, token_command: pass cw }\n- webhook: { url_env: W }\n  name: n8n\n",
            false,
        );
        assert!(p.is_empty(), "{p:?}");
        let names: Vec<&str> = t.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["slack", "slack-2", "chatwork", "n8n"]);
        assert!(t[0].wants("double_reply") && t[0].wants("digest"));
        assert!(t[1].wants("overdue") && !t[1].wants("done"));
        assert_eq!(t[1].timeout, Duration::from_secs(2));
        assert_eq!(t[2].kind, Kind::Chatwork { room: 42 });
        assert_eq!(t[2].secret_key, "notify.chatwork.token_command");
    }

    #[test]
    fn plaintext_secrets_need_a_private_file_and_are_never_echoed() {
        let yaml = "- teams: { webhook: \"https://x.example/wf/SECRETPATH\" }\n";
        let (_, p) = check(yaml, false);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("chmod 600"), "{p:?}");
        assert!(!p[0].contains("SECRETPATH"), "{p:?}");
        let (t, p) = check(yaml, true);
        assert!(p.is_empty() && t.len() == 1, "{p:?}");
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let yaml = "- slack: { webhook: \"https://hooks.example/services/SECRETPATH\" }\n- chatwork: { room: 1, token: TOKENVALUE }\n- webhook: { url_command: \"echo https://h.example/CMDSECRET\" }\n- teams: { webhook_env: TEAMS_URL }\n";
        let raw: Vec<RawTarget> = serde_yaml::from_str(yaml).unwrap();
        let dump = format!("{raw:?}");
        assert!(dump.contains("<hidden>"), "{dump}");
        let (t, p) = check(yaml, true);
        assert!(p.is_empty() && t.len() == 4, "{p:?}");
        let dump = format!("{dump} {t:?} {:#?}", t);
        for s in ["SECRETPATH", "TOKENVALUE", "CMDSECRET"] {
            assert!(!dump.contains(s), "{s} in {dump}");
        }
        // What is not a secret stays readable.
        assert!(dump.contains("TEAMS_URL"), "{dump}");
    }

    #[test]
    fn unset_variables_and_unreadable_files_are_warned_about_without_values() {
        let dir = std::env::temp_dir().join(format!("md-notify-src-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let readable = dir.join("hook");
        std::fs::write(&readable, "https://h.example/FILESECRET\n").unwrap();
        let missing = dir.join("missing");
        // PATH is set in every test process; the other name is nowhere.
        let yaml = format!(
            "- slack: {{ webhook_env: MAILDUTY_TEST_SURELY_UNSET_VAR }}\n- teams: {{ webhook_env: PATH }}\n- webhook: {{ url_file: {} }}\n- chatwork: {{ room: 1, token_file: {} }}\n- slack: {{ webhook_command: \"exit 1\" }}\n",
            readable.display(),
            missing.display()
        );
        let (t, p) = check(&yaml, false);
        assert!(p.is_empty() && t.len() == 5, "{p:?}");
        let w = source_warnings(&t);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].starts_with("notify.slack.webhook_env: the environment variable MAILDUTY_TEST_SURELY_UNSET_VAR is not set"),
            "{w:?}"
        );
        assert!(
            w[1].starts_with("notify.chatwork.token_file: cannot read") && w[1].contains("missing"),
            "{w:?}"
        );
        let all = w.join("\n");
        assert!(
            !all.contains("FILESECRET") && !all.contains("/usr/bin"),
            "{all}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn mistakes_are_named() {
        let (_, p) = check(
            "- slack: { webhook_env: A }\n  teams: { webhook_env: B }\n- chatwork: { token_env: T }\n- webhook: { url_env: W, url_file: /f, endpoint: \"http://hooks.example.jp\" }\n  events: [claimed]\n",
            false,
        );
        let all = p.join("\n");
        assert!(all.contains("target 1: give exactly one"), "{all}");
        assert!(all.contains("target 2: room: is missing"), "{all}");
        assert!(all.contains("target 3: give only one url source"), "{all}");
        assert!(all.contains("plain http"), "{all}");
        assert!(all.contains("did you mean claim?"), "{all}");
    }
}
