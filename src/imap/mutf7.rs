//! Modified UTF-7 (RFC 3501 §5.1.3) for mailbox names.
//!
//! Hand-written because the crate we tried panics on malformed input, and folder
//! names come from the server: decoding must never fail hard, only fall back.

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

pub fn encode(name: &str) -> String {
    let mut out = String::new();
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        out.push('&');
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let chars = chunk.len() + 1;
            for i in 0..chars {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out.push('-');
        pending.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// Decodes a name; `None` when it is not valid modified UTF-7.
pub fn decode(name: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = name;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find('-')?;
        let run = &after[..end];
        if run.is_empty() {
            out.push('&');
        } else {
            let mut bits: u32 = 0;
            let mut nbits = 0;
            let mut bytes = Vec::new();
            for ch in run.bytes() {
                let v = B64.iter().position(|&b| b == ch)? as u32;
                bits = (bits << 6) | v;
                nbits += 6;
                if nbits >= 8 {
                    nbits -= 8;
                    bytes.push((bits >> nbits) as u8);
                    bits &= (1 << nbits) - 1;
                }
            }
            if bytes.is_empty() || bytes.len() % 2 != 0 || bits != 0 {
                return None;
            }
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            out.push_str(&String::from_utf16(&units).ok()?);
        }
        rest = &after[end + 1..];
    }
    if rest.bytes().any(|b| !(0x20..=0x7e).contains(&b)) {
        return None;
    }
    out.push_str(rest);
    Some(out)
}

/// Decodes for display and matching; a malformed name is shown as sent.
pub fn decode_lossy(name: &str) -> String {
    decode(name).unwrap_or_else(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names() {
        assert_eq!(encode("未対応"), "&Zypb,l,c-");
        assert_eq!(encode("対応中"), "&W,5f3E4t-");
        assert_eq!(encode("完了"), "&W4xOhg-");
        assert_eq!(encode("対応中/tanaka"), "&W,5f3E4t-/tanaka");
        assert_eq!(encode("R&D"), "R&-D");
        for s in [
            "未対応",
            "対応中.tanaka",
            "R&D",
            "対応履歴",
            "📨 box",
            "plain",
        ] {
            assert_eq!(decode(&encode(s)).as_deref(), Some(s));
        }
    }

    #[test]
    fn malformed_does_not_panic() {
        for bad in [
            "&ZZZ-",
            "&",
            "&Zyp",
            "&Zypb,l,c",
            "&A-",
            "abc\u{e9}",
            "&2D0-",
        ] {
            assert!(decode(bad).is_none(), "{bad}");
            assert_eq!(decode_lossy(bad), bad);
        }
    }
}
