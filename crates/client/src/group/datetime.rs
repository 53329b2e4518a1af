//! `--to-datetime` values: an ISO-8601 / RFC 3339 date-time with an explicit offset, turned into
//! milliseconds since the Unix epoch for ListOffsets.
//!
//! Accepted: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM|+HHMM|-HHMM)`, for example
//! `2026-11-30T10:00:00Z` or `2026-11-30T11:00:00.250+01:00`. The fraction has 1 to 9 digits
//! and is truncated to milliseconds. kafka-consumer-groups reads a value without an offset in
//! the machine's local time zone; here the offset is required, so the same command means the
//! same instant on every machine.
//!
//! Instants before 1970-01-01T00:00:00Z are rejected: ListOffsets reads negative timestamps as
//! its special "latest" (-1) and "earliest" (-2) queries.

/// Milliseconds since the epoch for `text`, or a message saying what is wrong with it.
pub fn parse_datetime_ms(text: &str) -> Result<i64, String> {
    let shape = "expected YYYY-MM-DDTHH:MM:SS[.fff] followed by Z or an offset like +01:00";
    let bad = |why: &str| format!("invalid date-time '{text}': {why}");
    let bytes = text.as_bytes();
    if bytes.len() < 20 || !text.is_ascii() {
        return Err(bad(shape));
    }
    let punctuation = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if punctuation.iter().any(|&(at, c)| bytes[at] != c) || !matches!(bytes[10], b'T' | b't') {
        return Err(bad(shape));
    }
    let number = |from: usize, to: usize| -> Result<i64, String> {
        let digits = &text[from..to];
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(shape));
        }
        digits.parse::<i64>().map_err(|_| bad(shape))
    };
    let year = number(0, 4)?;
    let month = number(5, 7)?;
    let day = number(8, 10)?;
    let hour = number(11, 13)?;
    let minute = number(14, 16)?;
    let second = number(17, 19)?;
    if !(1..=12).contains(&month) {
        return Err(bad("month must be 01 to 12"));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(bad("no such day in that month"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(bad("time of day out of range"));
    }

    // Optional fraction of a second, then the zone.
    let mut rest = &text[19..];
    let mut millis = 0;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let digits = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        if !(1..=9).contains(&digits) {
            return Err(bad("the fraction of a second needs 1 to 9 digits"));
        }
        let padded = format!("{:0<3}", &after_dot[..digits.min(3)]);
        millis = padded.parse::<i64>().map_err(|_| bad(shape))?;
        rest = &after_dot[digits..];
    }
    let offset_minutes = parse_zone(rest).ok_or_else(|| bad(shape))?;

    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    let ms = seconds * 1_000 + millis;
    if ms < 0 {
        return Err(bad(
            "instants before 1970-01-01T00:00:00Z cannot be looked up",
        ));
    }
    Ok(ms)
}

/// `Z`, `+HH:MM` or `+HHMM` (or with `-`) as minutes east of UTC.
fn parse_zone(zone: &str) -> Option<i64> {
    if zone == "Z" || zone == "z" {
        return Some(0);
    }
    let (sign, digits) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    let (hours, minutes) = match digits.len() {
        5 if digits.as_bytes()[2] == b':' => (&digits[..2], &digits[3..]),
        4 => (&digits[..2], &digits[2..]),
        _ => return None,
    };
    if !hours
        .bytes()
        .chain(minutes.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let hours: i64 = hours.parse().ok()?;
    let minutes: i64 = minutes.parse().ok()?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 60 + minutes))
}

fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (negative before it), by counting
/// in 400-year eras that start on March 1st, so the leap day falls at the end of a year.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400; // [0, 399]
    let month_from_march = (month + 9) % 12; // March = 0 ... February = 11
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1; // [0, 365]
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719468 days separate 0000-03-01 from 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_instants() {
        assert_eq!(parse_datetime_ms("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_datetime_ms("1970-01-02T00:00:01Z"), Ok(86_401_000));
        // `date -u -d 2026-11-30T10:00:00Z +%s` = 1796032800
        assert_eq!(
            parse_datetime_ms("2026-11-30T10:00:00Z"),
            Ok(1_796_032_800_000)
        );
        assert_eq!(
            parse_datetime_ms("2000-02-29T23:59:59z"),
            Ok(951_868_799_000)
        );
    }

    #[test]
    fn fractions_are_truncated_to_milliseconds() {
        assert_eq!(parse_datetime_ms("1970-01-01T00:00:00.5Z"), Ok(500));
        assert_eq!(parse_datetime_ms("1970-01-01T00:00:00.25Z"), Ok(250));
        assert_eq!(parse_datetime_ms("1970-01-01T00:00:00.123Z"), Ok(123));
        assert_eq!(parse_datetime_ms("1970-01-01T00:00:00.123999999Z"), Ok(123));
        assert!(parse_datetime_ms("1970-01-01T00:00:00.Z").is_err());
        assert!(parse_datetime_ms("1970-01-01T00:00:00.1234567890Z").is_err());
    }

    #[test]
    fn offsets_move_the_instant() {
        let utc = parse_datetime_ms("2026-11-30T10:00:00Z");
        assert_eq!(parse_datetime_ms("2026-11-30T11:00:00+01:00"), utc);
        assert_eq!(parse_datetime_ms("2026-11-30T11:00:00+0100"), utc);
        assert_eq!(parse_datetime_ms("2026-11-30T04:30:00-05:30"), utc);
        assert_eq!(parse_datetime_ms("2026-11-30T10:00:00+00:00"), utc);
    }

    #[test]
    fn leap_years_follow_the_gregorian_rules() {
        assert!(parse_datetime_ms("2024-02-29T00:00:00Z").is_ok());
        assert!(parse_datetime_ms("2000-02-29T00:00:00Z").is_ok());
        assert!(parse_datetime_ms("2100-02-29T00:00:00Z").is_err());
        assert!(parse_datetime_ms("2025-02-29T00:00:00Z").is_err());
        assert_eq!(
            parse_datetime_ms("2025-03-01T00:00:00Z").map(|ms| ms / 86_400_000),
            Ok(20_148)
        );
    }

    #[test]
    fn malformed_values_are_rejected_with_the_reason() {
        for bad in [
            "",
            "2026-11-30",
            "2026-11-30T10:00:00",
            "2026-11-30 10:00:00Z",
            "2026/11/30T10:00:00Z",
            "2026-11-30T10:00Z",
            "2026-11-30T10:00:00+1",
            "2026-11-30T10:00:00+01:0",
            "2026-11-30T10:00:00UTC",
            "2026-13-01T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-11-30T24:00:00Z",
            "2026-11-30T10:60:00Z",
            "2026-11-30T10:00:60Z",
            "2026-11-30T10:00:00+24:00",
            "2026-1a-30T10:00:00Z",
            "+026-11-30T10:00:00Z",
            "2026-11-30T10:00:00Zjunk",
            "2026-11-30T10:00:00Ω",
        ] {
            let err = parse_datetime_ms(bad).expect_err(bad);
            assert!(err.starts_with("invalid date-time"), "{bad}: {err}");
            assert!(!err.contains('\n'), "{bad}: {err}");
        }
    }

    #[test]
    fn instants_before_the_epoch_are_rejected() {
        let err = parse_datetime_ms("1969-12-31T23:59:59Z").expect_err("before the epoch");
        assert!(err.contains("before 1970"), "{err}");
        let err = parse_datetime_ms("1970-01-01T00:30:00+01:00").expect_err("before the epoch");
        assert!(err.contains("before 1970"), "{err}");
    }
}
