//! Parsing of durations such as `500ms`, `30s` and `2m` for `--timeout`.

#![forbid(unsafe_code)]

use std::time::Duration;

/// Parses a whole number followed by a unit: `ms`, `s`, `m` or `h`.
///
/// A bare number is rejected rather than guessed, because `--timeout 30`
/// could mean seconds or milliseconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let digits_end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    if number.is_empty() {
        return Err(format!("invalid duration '{text}': expected a number and a unit, such as 500ms, 30s or 2m"));
    }
    let value: u64 = number.parse().map_err(|_| format!("invalid duration '{text}': the number is too large"))?;
    let millis_per_unit = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "" => return Err(format!("invalid duration '{text}': missing unit; use ms, s, m or h (e.g. {text}s)")),
        _ => return Err(format!("invalid duration '{text}': unknown unit '{unit}'; use ms, s, m or h")),
    };
    let millis = value
        .checked_mul(millis_per_unit)
        .ok_or_else(|| format!("invalid duration '{text}': the number is too large"))?;
    if millis == 0 {
        return Err(format!("invalid duration '{text}': must be greater than zero"));
    }
    Ok(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_duration_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    }

    #[test]
    fn parse_duration_rejects_bad_input() {
        for bad in ["", "30", "s", "1.5s", "-1s", "0s", "10d", "99999999999999999999s"] {
            assert!(parse_duration(bad).is_err(), "{bad} was accepted");
        }
    }
}
