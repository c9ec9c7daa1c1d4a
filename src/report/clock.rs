//! `test_time` without a wall clock: llama-bench stamps each test with the UTC time it started;
//! tiersim stamps it with a start time the user chooses (`--test-time`, else the
//! `SOURCE_DATE_EPOCH` convention of reproducible builds, else the Unix epoch) plus the
//! simulated time of the tests before it. Identical inputs therefore give identical files, and
//! the stamps still advance as a real run's do.

use crate::units::Seconds;

/// The simulated clock that dates each test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestClock {
    /// Seconds since 1970-01-01T00:00:00Z when the first test starts.
    start: i64,
    /// Simulated time spent by the tests so far.
    elapsed: Seconds,
}

impl TestClock {
    /// A clock whose first test starts `start` seconds after the Unix epoch.
    pub fn starting_at(start: i64) -> Self {
        Self {
            start,
            elapsed: Seconds::ZERO,
        }
    }

    /// The current time as llama-bench writes `test_time`, whole seconds.
    pub fn stamp(&self) -> String {
        format_utc(self.start + self.elapsed.0.floor() as i64)
    }

    /// Moves the clock past a test that ran for `d`.
    pub fn advance(&mut self, d: Seconds) {
        self.elapsed += d;
    }
}

/// Seconds since the Unix epoch as ISO 8601 UTC, `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` (the form [`format_utc`] writes) into seconds since the Unix
/// epoch; `None` for any other text or an impossible date.
pub fn parse_utc(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let shape_ok = b.len() == 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    let n = |r: std::ops::Range<usize>| text[r].parse::<i64>().ok();
    let (y, mo, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (h, mi, s) = (n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's proleptic Gregorian day-count algorithms: eras of 400 years, with years
// starting in March so that the leap day falls at the end.

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_format_and_parse_back() {
        // `date -u -d @N +%FT%TZ` for each N.
        for (secs, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_795_385_836, "2026-11-22T22:17:16Z"),
            (4_107_542_399, "2100-02-28T23:59:59Z"),
            (-1, "1969-12-31T23:59:59Z"),
        ] {
            assert_eq!(format_utc(secs), text);
            assert_eq!(parse_utc(text), Some(secs), "{text}");
        }
    }

    #[test]
    fn malformed_or_impossible_times_are_refused() {
        for bad in [
            "2026-11-22 22:17:16Z",
            "2026-11-22T22:17:16",
            "2026-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-22T24:00:00Z",
            "1795385836",
            "",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn stamps_advance_with_simulated_time_in_whole_seconds() {
        let mut c = TestClock::starting_at(1_795_385_835);
        assert_eq!(c.stamp(), "2026-11-22T22:17:15Z");
        c.advance(Seconds(0.6));
        assert_eq!(c.stamp(), "2026-11-22T22:17:15Z");
        c.advance(Seconds(0.6));
        assert_eq!(c.stamp(), "2026-11-22T22:17:16Z");
    }
}
