//! Intervals and timeouts written like `"90s"`, `"15m"`, `"1h30m"`.

use std::time::Duration;

const EXPECTED: &str = r#"expected a duration like "90s", "15m" or "1h" (units ms, s, m, h, d)"#;

/// Parses a duration made of one or more `<number><unit>` parts. Zero is refused: every
/// place a duration is configured needs a positive one.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(EXPECTED.to_string());
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("{EXPECTED}, found \"{text}\""));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{EXPECTED}, found \"{text}\""))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            "d" => Duration::from_secs(86_400),
            _ => return Err(format!("{EXPECTED}, found \"{text}\"")),
        };
        rest = &rest[unit_len..];
        let part = unit
            .checked_mul(u32::try_from(number).map_err(|_| format!("\"{text}\" is too long"))?)
            .ok_or_else(|| format!("\"{text}\" is too long"))?;
        total = total
            .checked_add(part)
            .ok_or_else(|| format!("\"{text}\" is too long"))?;
    }
    if total.is_zero() {
        return Err(format!("must be longer than zero, found \"{text}\""));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_usual_forms() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    }

    #[test]
    fn refuses_zero_and_nonsense() {
        assert!(parse_duration("0s")
            .unwrap_err()
            .contains("longer than zero"));
        for bad in ["abc", "", "10", "s", "10x", "1.5h", "-5s"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.starts_with("expected a duration"), "{bad}: {err}");
        }
    }
}
