//! The one duration grammar of both binaries' flags (`--interval 3s`,
//! `--idle-timeout 10m`, `--delete-after 30d`), so an operator never has to
//! remember which binary takes which spelling.

use std::time::Duration;

/// Parses a number (decimals allowed) followed by `ms`, `s`, `m`, `h` or `d`,
/// or a bare number of seconds: `250ms`, `3s`, `0.5s`, `2`, `10m`, `2h`, `30d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 500ms, 30s or 10m"))?;
    let seconds_per_unit = match unit {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?}; use ms, s, m, h or d"
            ));
        }
    };
    // Whole milliseconds are exact; only fractions go through floating point.
    if unit == "ms" && value.fract() == 0.0 {
        return Ok(Duration::from_millis(value as u64));
    }
    Duration::try_from_secs_f64(value * seconds_per_unit)
        .map_err(|error| format!("{text:?} is out of range: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_either_binary_accepted_parses_to_its_duration() {
        let cases = [
            ("250ms", Duration::from_millis(250)),
            ("3s", Duration::from_secs(3)),
            ("2", Duration::from_secs(2)),
            ("30", Duration::from_secs(30)),
            ("0.5s", Duration::from_millis(500)),
            ("1m", Duration::from_secs(60)),
            ("10m", Duration::from_secs(600)),
            ("2h", Duration::from_secs(7200)),
            ("30d", Duration::from_secs(30 * 86_400)),
            (" 3s ", Duration::from_secs(3)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn a_word_or_an_unknown_unit_is_refused_with_the_units_named() {
        for text in ["fast", "ten", "5y", "3 hours", "", "s", "-1s", "1e3s"] {
            let error = parse_duration(text).expect_err(text);
            assert!(error.contains(text.trim()), "{text}: {error}");
        }
        assert!(
            parse_duration("5y")
                .unwrap_err()
                .contains("ms, s, m, h or d")
        );
    }
}
