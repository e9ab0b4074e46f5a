//! The sample mail: Japanese subjects in every common encoding, one message
//! without a Message-ID, and two sharing one.

use base64::Engine;

use super::Server;

pub struct Seeded {
    pub subject: &'static str,
    pub message_id: Option<&'static str>,
    pub folder: &'static str,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn encoded(subject: &str, charset: &'static encoding_rs::Encoding, label: &str) -> String {
    let (bytes, _, unmappable) = charset.encode(subject);
    assert!(!unmappable, "{subject} in {label}");
    format!("=?{label}?B?{}?=", b64(&bytes))
}

fn message(mid: Option<&str>, from: &str, subject_header: &str, body: &str) -> Vec<u8> {
    let mut m = String::new();
    if let Some(mid) = mid {
        m.push_str(&format!("Message-ID: <{mid}>\r\n"));
    }
    m.push_str(&format!(
        "From: {from}\r\nTo: support@example.jp\r\nSubject: {subject_header}\r\nDate: Fri, 20 Nov 2026 09:00:00 +0900\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    ));
    m.into_bytes()
}

/// An IMAP date-time `hours` before now.
pub fn hours_ago(hours: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::hours(hours))
        .format("%d-%b-%Y %H:%M:%S +0000")
        .to_string()
}

pub fn seed(dc: &dyn Server) -> Vec<Seeded> {
    let mut out = Vec::new();
    let mut add = |folder: &'static str,
                   age: i64,
                   mid: Option<&'static str>,
                   from: &str,
                   subj_hdr: String,
                   subject: &'static str| {
        dc.append(
            folder,
            "",
            &hours_ago(age),
            &message(mid, from, &subj_hdr, "お世話になっております。"),
        );
        out.push(Seeded {
            subject,
            message_id: mid,
            folder,
        });
    };
    let s = "【至急】請求書の再発行について";
    add(
        "INBOX",
        1,
        Some("utf8@client.example"),
        "=?UTF-8?B?5bGx55Sw?= <yamada@bigclient.co.jp>",
        encoded(s, encoding_rs::UTF_8, "UTF-8"),
        s,
    );
    let s = "見積もりのお願い";
    add(
        "未対応",
        30,
        Some("jis@client.example"),
        "sato@example.co.jp",
        encoded(s, encoding_rs::ISO_2022_JP, "ISO-2022-JP"),
        s,
    );
    let s = "納品日の確認";
    add(
        "未対応",
        2,
        Some("sjis@client.example"),
        "ito@example.co.jp",
        encoded(s, encoding_rs::SHIFT_JIS, "Shift_JIS"),
        s,
    );
    let s = "返品について";
    add(
        "INBOX",
        50,
        Some("euc@client.example"),
        "kato@example.co.jp",
        encoded(s, encoding_rs::EUC_JP, "EUC-JP"),
        s,
    );
    let s = "Message-IDのないメール";
    add(
        "未対応",
        3,
        None,
        "nomid@example.co.jp",
        encoded(s, encoding_rs::UTF_8, "UTF-8"),
        s,
    );
    let s = "重複した問い合わせ";
    add(
        "未対応",
        5,
        Some("dup@client.example"),
        "dup@example.co.jp",
        encoded(s, encoding_rs::UTF_8, "UTF-8"),
        s,
    );
    add(
        "未対応",
        4,
        Some("dup@client.example"),
        "dup@example.co.jp",
        encoded(s, encoding_rs::UTF_8, "UTF-8"),
        s,
    );
    out
}

/// One plain message with a given Message-ID in 未対応.
pub fn one(dc: &dyn Server, mid: &str) {
    dc.append(
        "未対応",
        "",
        &hours_ago(1),
        &message(Some(mid), "race@example.jp", "race", "x"),
    );
}
