//! Deterministic ids, names and timestamps.

/// SplitMix64 step: a fast, well-mixed, deterministic hash of a u64.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Hash of (seed, kind tag, index, salt).
pub fn h(seed: u64, tag: u64, idx: u64, salt: u64) -> u64 {
    mix(seed ^ mix(tag.wrapping_mul(0x1000_0000_01B3) ^ mix(idx ^ mix(salt))))
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex(out: &mut String, v: u64, digits: u32) {
    for k in (0..digits).rev() {
        out.push(HEX[((v >> (k * 4)) & 0xF) as usize] as char);
    }
}

/// A dashed v4-shaped UUID.
pub fn uuid(seed: u64, tag: u64, idx: u64) -> String {
    let a = h(seed, tag, idx, 1);
    let b = h(seed, tag, idx, 2);
    let a = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x4000;
    let b = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    let mut s = String::with_capacity(36);
    push_hex(&mut s, a >> 32, 8);
    s.push('-');
    push_hex(&mut s, (a >> 16) & 0xFFFF, 4);
    s.push('-');
    push_hex(&mut s, a & 0xFFFF, 4);
    s.push('-');
    push_hex(&mut s, b >> 48, 4);
    s.push('-');
    push_hex(&mut s, b & 0xFFFF_FFFF_FFFF, 12);
    s
}

/// A keystone-style id: 32 hex characters, no dashes.
pub fn hex32(seed: u64, tag: u64, idx: u64) -> String {
    let mut s = String::with_capacity(32);
    push_hex(&mut s, h(seed, tag, idx, 3), 16);
    push_hex(&mut s, h(seed, tag, idx, 4), 16);
    s
}

/// Hex string of `n` characters.
pub fn hexn(seed: u64, tag: u64, idx: u64, n: usize) -> String {
    let mut s = String::with_capacity(n + 16);
    let mut k = 10;
    while s.len() < n {
        push_hex(&mut s, h(seed, tag, idx, k), 16);
        k += 1;
    }
    s.truncate(n);
    s
}

fn civil(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Timestamp styles seen in the OpenStack APIs.
#[derive(Clone, Copy)]
pub enum Ts {
    /// `2024-01-01T00:00:00Z`
    Z,
    /// `2024-01-01T00:00:00`
    Naive,
    /// `2024-01-01T00:00:00.000000` (micros derived from the seconds)
    Micro,
    /// `2024-01-01T00:00:00.000000Z`
    MicroZ,
}

pub fn ts(secs: i64, style: Ts) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    let base = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    );
    let micros = (mix(secs as u64) % 1_000_000) as u32;
    match style {
        Ts::Z => base + "Z",
        Ts::Naive => base,
        Ts::Micro => format!("{base}.{micros:06}"),
        Ts::MicroZ => format!("{base}.{micros:06}Z"),
    }
}

/// 2024-01-01T00:00:00Z
pub const EPOCH_2024: i64 = 1_704_067_200;

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(EPOCH_2024)
}

/// Append `s` as a JSON string literal.
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

pub fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    push_json_str(&mut o, s);
    o
}

/// Percent-decode a query component (`+` is a space).
pub fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hx = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hx.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encode a query value.
pub fn pct_encode(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || b"-_.~".contains(&c) {
            o.push(c as char);
        } else {
            o.push_str(&format!("%{c:02X}"));
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn timestamps() {
        assert_eq!(ts(EPOCH_2024, Ts::Z), "2024-01-01T00:00:00Z");
        assert_eq!(
            ts(EPOCH_2024 + 86_400 * 60 + 3661, Ts::Naive),
            "2024-03-01T01:01:01"
        );
        let u = uuid(1, 2, 3);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_eq!(u.matches('-').count(), 4);
        assert_eq!(hex32(1, 2, 3).len(), 32);
        assert_eq!(hexn(1, 2, 3, 56).len(), 56);
        assert_eq!(pct_decode("a%20b+c"), "a b c");
        assert_eq!(pct_decode("100%"), "100%");
    }
}

/// A small, fast, non-cryptographic hasher (FxHash) for the id indexes.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap()));
        }
        for &b in chunks.remainder() {
            self.add(b as u64);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub type FxBuild = std::hash::BuildHasherDefault<FxHasher>;
pub type FxMap<K, V> = std::collections::HashMap<K, V, FxBuild>;
