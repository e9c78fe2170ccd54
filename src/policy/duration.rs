//! Human durations in policy files: `90s`, `30m`, `12h`, `7d`, `2w`, and sums such as `1d12h`.

use std::time::Duration;

/// Parses a policy duration. Units: `s`, `m`, `h`, `d` (24 h), `w` (7 d). At least one
/// `<number><unit>` group; no spaces, no fractions, no bare numbers (a unit is required so
/// `7` cannot silently mean seven seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty duration (expected e.g. `7d`, `12h`, `30m`)".into());
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for ch in trimmed.chars() {
        if ch.is_ascii_digit() {
            number.push(ch);
            continue;
        }
        let unit: u64 = match ch {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            other => {
                return Err(format!(
                    "invalid duration `{text}`: unknown unit `{other}` (use s, m, h, d or w)"
                ));
            }
        };
        if number.is_empty() {
            return Err(format!(
                "invalid duration `{text}`: unit `{ch}` has no number"
            ));
        }
        let value: u64 = number
            .parse()
            .map_err(|_| format!("invalid duration `{text}`: number too large"))?;
        total = value
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("invalid duration `{text}`: too large"))?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(format!(
            "invalid duration `{text}`: `{number}` has no unit (write e.g. `{number}d`)"
        ));
    }
    Ok(Duration::from_secs(total))
}

/// Formats seconds compactly (`3d4h`, `15m`, `0s`).
pub fn format_duration(duration: Duration) -> String {
    let mut secs = duration.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_sums() {
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(
            parse_duration("1d12h").unwrap(),
            Duration::from_secs(129_600)
        );
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_duration("2w").unwrap(),
            Duration::from_secs(1_209_600)
        );
    }

    #[test]
    fn rejects_bad_durations() {
        for bad in ["", "7", "d", "7y", "1.5h", "-1d", "99999999999999999999w"] {
            assert!(parse_duration(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(format_duration(Duration::from_secs(93_784)), "1d2h3m4s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
