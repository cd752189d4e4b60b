//! HTTP dates (RFC 9110 §5.6.7): the `Date` header value, formatted at most once a
//! second per thread and copied into each response; [`format`] for other dates
//! (`Last-Modified`) and [`parse`] for the ones clients send (`If-Modified-Since`).
//!
//! Each thread keeps the last second it formatted, together with the status and
//! `Server` lines of a 200 response, which then start with one copy. A response's head
//! is written when the response is made; one committed in a later second is dated
//! again then ([`refresh_200_head`], formatting outside the cache: rare, a handler
//! that spans a second's end). The second comes
//! from a global that the servers' reapers publish twice a second (so a response reads
//! no clock); it is written rarely and read by all, so the cache line stays shared.

use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) const DATE_LEN: usize = 29;

/// `HTTP/1.1 200 OK`, `Server` and `Date` lines: how nearly every response starts.
const PREFIX_200: &[u8] = b"HTTP/1.1 200 OK\r\nServer: gmp\r\nDate: ";
const LINE_LEN: usize = PREFIX_200.len() + DATE_LEN + 2;

/// The current Unix second, as last published by [`tick`] (0: never).
static NOW: AtomicI64 = AtomicI64::new(0);

/// Publishes the current second. Each server's reaper calls it at least twice a second;
/// responses read the published value instead of the clock.
pub(crate) fn tick() {
    // Relaxed: a clock reading; a thread that sees the old second for a moment writes
    // a Date one second old, which RFC 9110 allows (it is the time of "origination").
    NOW.store(unix_seconds(), Relaxed);
}

fn now() -> i64 {
    // Relaxed: see `tick`.
    match NOW.load(Relaxed) {
        0 => unix_seconds(), // no server has ticked yet (unit tests, first request)
        s => s,
    }
}

struct Cache {
    sec: Cell<i64>,
    lines: UnsafeCell<[u8; LINE_LEN]>,
}

thread_local! {
    /// The second last formatted, and the 200 response's first three lines for it.
    static CACHE: Cache = const {
        Cache {
            sec: Cell::new(i64::MIN),
            lines: UnsafeCell::new([0; LINE_LEN]),
        }
    };
}

/// Appends bytes `FROM..TO` of the cached lines for the current second.
///
/// `#[inline(never)]` and no switch inside: a goroutine may move to another thread
/// between two calls, and the thread-local's address must not be cached across them
/// (gmp-core's thread-local rule).
#[inline(never)]
fn append_cached<const FROM: usize, const TO: usize>(out: &mut Vec<u8>) -> i64 {
    let now = now();
    CACHE.with(|c| {
        if c.sec.get() != now {
            // SAFETY: the only references to `lines` are this one and the shared one
            // below, each confined to this closure on this thread, never alive at once;
            // nothing here re-enters `append_cached`.
            let lines = unsafe { &mut *c.lines.get() };
            lines[..PREFIX_200.len()].copy_from_slice(PREFIX_200);
            lines[PREFIX_200.len()..][..DATE_LEN].copy_from_slice(&format(now));
            lines[LINE_LEN - 2..].copy_from_slice(b"\r\n");
            c.sec.set(now);
        }
        // SAFETY: as above.
        let lines = unsafe { &*c.lines.get() };
        // A constant range: the copy is a few moves, not a `memcpy` call.
        out.extend_from_slice(&lines[FROM..TO]);
    });
    now
}

/// Appends the current date (the header value only).
pub(crate) fn append(out: &mut Vec<u8>) {
    append_cached::<{ PREFIX_200.len() }, { PREFIX_200.len() + DATE_LEN }>(out);
}

/// Length of what [`append_200_head`] appends.
pub(crate) const HEAD_200_LEN: usize = LINE_LEN;

/// Appends `HTTP/1.1 200 OK\r\nServer: gmp\r\nDate: <now>\r\n` in one copy, and
/// returns the second its Date names (for [`refresh_200_head`]).
pub(crate) fn append_200_head(out: &mut Vec<u8>) -> i64 {
    append_cached::<0, LINE_LEN>(out)
}

/// Brings the Date of the head that [`append_200_head`] wrote in second `sec` at
/// `out[at..]` to the current second: a response is dated when its head is committed,
/// not when the handler started (Go's `Date` is set at `WriteHeader` too).
#[inline]
pub(crate) fn refresh_200_head(out: &mut [u8], at: usize, sec: i64) {
    // Relaxed: see `tick`. Before the first tick (0) the slow path reads the clock.
    if NOW.load(Relaxed) != sec {
        refresh_slow(out, at);
    }
}

#[cold]
#[inline(never)]
fn refresh_slow(out: &mut [u8], at: usize) {
    out[at + PREFIX_200.len()..][..DATE_LEN].copy_from_slice(&format(now()));
}

fn unix_seconds() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; CLOCK_REALTIME_COARSE exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    ts.tv_sec
}

/// Formats seconds since the Unix epoch as an IMF-fixdate.
pub(crate) fn format(secs: i64) -> [u8; DATE_LEN] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, rem / 60 % 60, rem % 60);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[days.rem_euclid(7) as usize]);
    two(&mut out[5..7], d);
    out[8..11].copy_from_slice(MONTHS[(m - 1) as usize]);
    let y = y.clamp(0, 9999);
    two(&mut out[12..14], y / 100);
    two(&mut out[14..16], y % 100);
    two(&mut out[17..19], hh);
    two(&mut out[20..22], mm);
    two(&mut out[23..25], ss);
    out
}

/// Parses an HTTP date in any of the three forms RFC 9110 §5.6.7 says a recipient
/// accepts: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850 form
/// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`). Seconds
/// since the Unix epoch, or `None` if `s` is none of them. The weekday is not checked
/// against the date (nor does Go's `http.ParseTime` check it).
pub(crate) fn parse(s: &str) -> Option<i64> {
    let s = s.trim_matches([' ', '\t']);
    let (weekday, rest) = s.split_once([',', ' '])?;
    if !weekday.bytes().all(|b| b.is_ascii_alphabetic()) || weekday.len() < 3 {
        return None;
    }
    let f: Vec<&str> = rest.split(' ').filter(|f| !f.is_empty()).collect();
    let (day, month, year, time) = if s.as_bytes()[weekday.len()] == b',' {
        match f.as_slice() {
            // IMF-fixdate: `06 Nov 1994 08:49:37 GMT`.
            [d, m, y, t, "GMT"] if weekday.len() == 3 && y.len() == 4 => (*d, *m, num(y)?, *t),
            // RFC 850: `06-Nov-94 08:49:37 GMT`; a two-digit year is 1970-2069.
            [dmy, t, "GMT"] => {
                let mut p = dmy.split('-');
                let (d, m, y) = (p.next()?, p.next()?, p.next()?);
                if p.next().is_some() || y.len() != 2 {
                    return None;
                }
                let y = num(y)?;
                (d, m, if y < 70 { 2000 + y } else { 1900 + y }, *t)
            }
            _ => return None,
        }
    } else {
        // asctime: `Nov  6 08:49:37 1994` (the day may be padded with a space).
        match f.as_slice() {
            [m, d, t, y] if weekday.len() == 3 && y.len() == 4 => (*d, *m, num(y)?, *t),
            _ => return None,
        }
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    if day.is_empty() || day.len() > 2 {
        return None;
    }
    let day = num(day)?;
    let mut hms = time.split(':');
    let (h, m, sec) = (hms.next()?, hms.next()?, hms.next()?);
    if hms.next().is_some() || h.len() != 2 || m.len() != 2 || sec.len() != 2 {
        return None;
    }
    let (h, m, sec) = (num(h)?, num(m)?, num(sec)?);
    let days_in_month = match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    // A leap second (`:60`) is taken as the next second's start, as a clock would.
    if day == 0 || day > days_in_month || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + sec)
}

/// A field of ASCII digits (no sign, no spaces).
fn num(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// (year, month 1-12, day 1-31) to days since 1970-01-01: the inverse of
/// [`civil_from_days`], from the same paper.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn two(dst: &mut [u8], v: i64) {
    dst[0] = b'0' + (v / 10) as u8;
    dst[1] = b'0' + (v % 10) as u8;
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), proleptic Gregorian
/// (the algorithm from Howard Hinnant's "chrono-compatible low-level date algorithms").
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(&format(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        // RFC 9110's example.
        assert_eq!(&format(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        // A leap day and the end of a year.
        assert_eq!(&format(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(&format(1_798_761_599), b"Thu, 31 Dec 2026 23:59:59 GMT");
    }

    #[test]
    fn a_200_head_is_redated_only_when_the_second_moved() {
        let mut out = b"earlier".to_vec();
        let sec = append_200_head(&mut out);
        assert_eq!(out.len(), 7 + HEAD_200_LEN);
        let head = &mut out[7..];
        assert!(head.starts_with(PREFIX_200) && head.ends_with(b"\r\n"));
        assert_eq!(
            parse(std::str::from_utf8(&head[PREFIX_200.len()..][..DATE_LEN]).unwrap()),
            Some(sec)
        );
        let date = PREFIX_200.len()..PREFIX_200.len() + DATE_LEN;
        // Written in a second long gone: dated again, now.
        head[date.clone()].fill(b'x');
        refresh_200_head(head, 0, sec - 3600);
        let again = parse(std::str::from_utf8(&head[date.clone()]).unwrap());
        assert!(
            again.is_some_and(|t| t >= sec),
            "{again:?}, written in {sec}"
        );
        // Written this second: left alone (unless the second ends in between). The
        // second as the reapers publish it (before any has, every head is redated).
        tick();
        let s = now();
        head[date.clone()].fill(b'x');
        refresh_200_head(head, 0, s);
        if now() == s {
            assert!(
                head[date].iter().all(|&b| b == b'x'),
                "a current head was redated"
            );
        }
    }

    #[test]
    fn parses_the_three_forms() {
        // RFC 9110 §5.6.7's example in each form.
        for s in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "  Sun, 06 Nov 1994 08:49:37 GMT ",
        ] {
            assert_eq!(parse(s), Some(784_111_777), "{s:?}");
        }
        assert_eq!(parse("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse("Tue, 29 Feb 2000 00:00:00 GMT"), Some(951_782_400));
        assert_eq!(
            parse("Thursday, 31-Dec-26 23:59:59 GMT"),
            Some(1_798_761_599)
        );
        // Every date `format` writes reads back.
        for secs in [0, 1, 86_399, 951_782_400, 1_700_000_000, 4_102_444_799] {
            let f = format(secs);
            assert_eq!(parse(std::str::from_utf8(&f).unwrap()), Some(secs));
        }
        for bad in [
            "",
            "yesterday",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 30 Feb 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, +6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT extra",
            "Sun Nov  6 08:49:37 94",
            "1994-11-06T08:49:37Z",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn append_is_current() {
        let mut v = Vec::new();
        append(&mut v);
        assert_eq!(v.len(), DATE_LEN);
        assert!(v.ends_with(b" GMT"));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        // The coarse clock lags by at most a tick; accept the neighbouring second.
        assert!(v == format(now) || v == format(now - 1) || v == format(now + 1));
        let mut h = Vec::new();
        append_200_head(&mut h);
        assert!(h.starts_with(b"HTTP/1.1 200 OK\r\nServer: gmp\r\nDate: "));
        assert!(h.ends_with(b" GMT\r\n"));
    }
}
