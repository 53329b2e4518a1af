//! The `time` of an audit line: RFC 3339 in UTC with milliseconds, `2026-12-07T09:15:02.123Z`,
//! the form log shippers and SIEMs read without a format string. Written here rather than with a
//! date crate: a UTC timestamp needs only the days-to-date conversion below.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

const MILLIS_PER_DAY: i128 = 86_400_000;

/// Displays a [`SystemTime`] as `YYYY-MM-DDTHH:MM:SS.mmmZ`, rounded down to the millisecond
/// (also before 1970, so an instant never shows later than it was). Years past 9999 take more
/// than four digits, which RFC 3339 does not allow; a broker's clock never gets there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rfc3339Millis(pub SystemTime);

impl fmt::Display for Rfc3339Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = millis_since_epoch(self.0);
        let days = millis.div_euclid(MILLIS_PER_DAY);
        let millis_of_day = millis.rem_euclid(MILLIS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let seconds_of_day = millis_of_day / 1000;
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            seconds_of_day / 3600,
            seconds_of_day / 60 % 60,
            seconds_of_day % 60,
            millis_of_day % 1000
        )
    }
}

/// As the string it displays.
impl serde::Serialize for Rfc3339Millis {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Milliseconds since 1970-01-01T00:00:00Z, negative before it, rounded towards the past.
/// i128 holds every `SystemTime` a platform can represent.
fn millis_since_epoch(time: SystemTime) -> i128 {
    const NANOS_PER_MILLI: i128 = 1_000_000;
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_millis()).unwrap_or(i128::MAX),
        Err(before) => {
            let nanos = i128::try_from(before.duration().as_nanos()).unwrap_or(i128::MAX);
            -((nanos + NANOS_PER_MILLI - 1) / NANOS_PER_MILLI)
        }
    }
}

/// The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01: Howard
/// Hinnant's `civil_from_days`. It counts in 400-year eras, which repeat exactly (146097 days),
/// and starts each year on March 1st so that February's leap day falls at a year's end.
fn civil_from_days(days: i128) -> (i128, i128, i128) {
    // Days from 0000-03-01 to 1970-01-01.
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097); // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365; // [0, 399]
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // [0, 365]
    let month_from_march = (5 * day_of_year + 2) / 153; // [0, 11]
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1; // [1, 31]
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i128::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(seconds: i64, millis: u64) -> String {
        let base = if seconds >= 0 {
            UNIX_EPOCH + Duration::from_secs(seconds.unsigned_abs())
        } else {
            UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs())
        };
        Rfc3339Millis(base + Duration::from_millis(millis)).to_string()
    }

    #[test]
    fn formats_known_instants() {
        // Expected values from `date -u -d <instant> +%s`.
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(1_796_634_902, 123), "2026-12-07T09:15:02.123Z");
        assert_eq!(at(253_402_300_799, 999), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn leap_days() {
        // 2000 is a leap year (divisible by 400).
        assert_eq!(at(951_827_696, 7), "2000-02-29T12:34:56.007Z");
        assert_eq!(at(951_827_696 + 86_400, 0), "2000-03-01T12:34:56.000Z");
        // 2024 is one (divisible by 4).
        assert_eq!(at(1_709_251_199, 999), "2024-02-29T23:59:59.999Z");
        assert_eq!(at(1_709_251_200, 0), "2024-03-01T00:00:00.000Z");
        // 2100 is not (divisible by 100, not by 400).
        assert_eq!(at(4_107_542_399, 0), "2100-02-28T23:59:59.000Z");
        assert_eq!(at(4_107_542_400, 0), "2100-03-01T00:00:00.000Z");
    }

    #[test]
    fn end_of_year() {
        assert_eq!(at(1_704_067_199, 999), "2023-12-31T23:59:59.999Z");
        assert_eq!(at(1_704_067_200, 0), "2024-01-01T00:00:00.000Z");
        // The last day of a leap year is its 366th.
        assert_eq!(at(1_735_689_599, 500), "2024-12-31T23:59:59.500Z");
    }

    #[test]
    fn rounds_down_to_the_millisecond_also_before_1970() {
        let just_after = UNIX_EPOCH + Duration::from_nanos(1_999_999);
        assert_eq!(
            Rfc3339Millis(just_after).to_string(),
            "1970-01-01T00:00:00.001Z"
        );
        let just_before = UNIX_EPOCH - Duration::from_nanos(1);
        assert_eq!(
            Rfc3339Millis(just_before).to_string(),
            "1969-12-31T23:59:59.999Z"
        );
        assert_eq!(at(-1, 0), "1969-12-31T23:59:59.000Z");
        assert_eq!(at(-2_203_891_200, 0), "1900-03-01T00:00:00.000Z");
    }

    #[test]
    fn every_day_of_four_centuries_follows_the_previous_one() {
        // Walks 1900-01-01 .. 2300-01-01 one day at a time against a simple calendar.
        let is_leap = |y: i128| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let days_in = |y: i128, m: i128| match m {
            2 if is_leap(y) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let (mut year, mut month, mut day) = (1900, 1, 1);
        for days in -25_567..120_530 {
            assert_eq!(civil_from_days(days), (year, month, day), "day {days}");
            day += 1;
            if day > days_in(year, month) {
                day = 1;
                month += 1;
                if month > 12 {
                    month = 1;
                    year += 1;
                }
            }
        }
        assert_eq!((year, month, day), (2300, 1, 1));
    }
}
