//! The serde mirror of rules.yaml: every key the file may hold, with no meaning yet.
//! Unknown keys are refused here (`deny_unknown_fields`); what the values mean is
//! `validate`'s business.

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRules {
    pub(super) timezone: Option<String>,
    pub(super) imap: RawImap,
    #[serde(default)]
    pub(super) folders: RawFolders,
    pub(super) members: BTreeMap<String, RawMember>,
    pub(super) sla: Option<RawSla>,
    pub(super) roster: Option<RawRoster>,
    pub(super) business_hours: Option<RawHours>,
    pub(super) assign: Option<String>,
    pub(super) threads: Option<bool>,
    #[serde(default)]
    pub(super) routes: Vec<RawRoute>,
    pub(super) digest: Option<RawDigest>,
    pub(super) archive: Option<RawArchive>,
    pub(super) quota: Option<RawQuota>,
    #[serde(default)]
    pub(super) notify: Vec<notify::RawTarget>,
    pub(super) on_reply: Option<String>,
    pub(super) reply_window: Option<String>,
    pub(super) sign_in: Option<String>,
    #[serde(default)]
    pub(super) viewers: Vec<String>,
    pub(super) automated: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawArchive {
    pub(super) after: Option<String>,
    pub(super) folder: Option<String>,
    pub(super) history_after: Option<String>,
    pub(super) history_folder: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQuota {
    pub(super) warn: Option<u8>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDigest {
    pub(super) to: Option<Vec<String>>,
    #[serde(default)]
    pub(super) cc: Vec<String>,
    pub(super) from: Option<String>,
    pub(super) send_when_empty: Option<bool>,
    pub(super) smtp: Option<RawSmtp>,
    pub(super) sendmail: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSmtp {
    pub(super) host: String,
    pub(super) port: Option<u16>,
    pub(super) tls: Option<TlsMode>,
    pub(super) ca_file: Option<PathBuf>,
    pub(super) user: Option<String>,
    pub(super) password_command: Option<Hidden>,
    pub(super) password_env: Option<String>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) password: Option<Hidden>,
    pub(super) oauth2: Option<oauth::RawSmtpOAuth2>,
}

/// A member key or a list of them.
#[derive(Debug)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a member key or a list of member keys")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<OneOrMany, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = seq.next_element::<String>()? {
                    out.push(k);
                }
                Ok(OneOrMany::Many(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl OneOrMany {
    pub(super) fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoster {
    pub(super) weekdays: Option<BTreeMap<String, OneOrMany>>,
    pub(super) rotation: Option<RawRotation>,
    #[serde(default)]
    pub(super) overrides: BTreeMap<String, OneOrMany>,
    pub(super) holidays: Option<RawHolidays>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRotation {
    #[serde(default)]
    pub(super) members: Vec<String>,
    pub(super) every: Option<String>,
    pub(super) start: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHolidays {
    pub(super) japan: Option<bool>,
    #[serde(default)]
    pub(super) dates: Vec<String>,
    #[serde(default)]
    pub(super) yearly: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHours {
    pub(super) start: Option<String>,
    pub(super) end: Option<String>,
    pub(super) days: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoute {
    #[serde(rename = "match")]
    pub(super) matcher: RawMatch,
    pub(super) owner: Option<String>,
    pub(super) sla: Option<String>,
    pub(super) action: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMatch {
    pub(super) from: Option<String>,
    pub(super) subject: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawImap {
    pub(super) host: String,
    pub(super) port: Option<u16>,
    pub(super) tls: Option<TlsMode>,
    pub(super) ca_file: Option<PathBuf>,
    pub(super) user: String,
    pub(super) password_command: Option<Hidden>,
    pub(super) password_env: Option<String>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) password: Option<Hidden>,
    pub(super) oauth2: Option<oauth::RawOAuth2>,
    pub(super) shared_mailbox: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFolders {
    pub(super) inbox: Option<String>,
    pub(super) unclaimed: Option<String>,
    pub(super) claimed: Option<String>,
    pub(super) done: Option<String>,
    pub(super) history: Option<String>,
    pub(super) held: Option<String>,
    pub(super) dismissed: Option<String>,
    pub(super) sent: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMember {
    pub(super) name: Option<String>,
    pub(super) email: Option<String>,
    pub(super) login: Option<String>,
    pub(super) sent_as: Option<OneOrMany>,
    pub(super) slack: Option<String>,
    pub(super) chatwork: Option<IdNumber>,
}

/// A chat user ID written as a number or a string (`chatwork: 1234567`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum IdNumber {
    Number(u64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSla {
    pub(super) unclaimed: Option<String>,
    pub(super) claimed: Option<String>,
}
