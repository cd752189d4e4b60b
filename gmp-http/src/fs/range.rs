//! The `Range` request header (RFC 9110 §14.2) for one file of known size, reduced to
//! what the file server sends: the whole file, one range, or 416.
//!
//! A request for several ranges is answered with the whole file (200) unless its
//! ranges merge into one contiguous range (then 206 for that range): RFC 9110 lets a
//! server ignore `Range` or coalesce ranges, and a `multipart/byteranges` body would
//! need its own framing for the rare client (video players and download managers ask
//! for one range at a time). A header in another unit, or not valid syntax, is
//! ignored, as RFC 9110 §14.2 requires for an unknown unit (Go answers 416 there).

/// What to send for a `Range` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ranges {
    /// The whole file, 200.
    Whole,
    /// `len` bytes from `start`, 206 (`len` ≥ 1, `start + len` ≤ the size).
    One { start: u64, len: u64 },
    /// No range overlaps the file: 416 with `Content-Range: bytes */size`.
    Unsatisfiable,
}

/// More range specs than this in one header: ignored (a many-small-ranges request is
/// the denial-of-service pattern RFC 9110 §14.2 warns about).
const MAX_SPECS: usize = 100;

/// The ranges of header value `h` for a file of `size` bytes.
pub(crate) fn parse(h: &str, size: u64) -> Ranges {
    let h = h.trim_matches([' ', '\t']);
    let Some((unit, set)) = h.split_once('=') else {
        return Ranges::Whole;
    };
    if !unit
        .trim_end_matches([' ', '\t'])
        .eq_ignore_ascii_case("bytes")
    {
        return Ranges::Whole;
    }
    let mut ranges: Vec<(u64, u64)> = Vec::new(); // [start, end) within the file
    let mut specs = 0;
    for spec in set.split(',') {
        let spec = spec.trim_matches([' ', '\t']);
        if spec.is_empty() {
            continue; // empty list elements are allowed (RFC 9110 §5.6.1.2)
        }
        specs += 1;
        if specs > MAX_SPECS {
            return Ranges::Whole;
        }
        let Some((first, last)) = spec.split_once('-') else {
            return Ranges::Whole;
        };
        let (first, last) = (
            first.trim_end_matches([' ', '\t']),
            last.trim_start_matches([' ', '\t']),
        );
        if first.is_empty() {
            // `-n`: the last n bytes; `-0` overlaps nothing.
            let Some(n) = digits(last) else {
                return Ranges::Whole;
            };
            if n > 0 && size > 0 {
                ranges.push((size - n.min(size), size));
            }
            continue;
        }
        let Some(a) = digits(first) else {
            return Ranges::Whole;
        };
        let b = if last.is_empty() {
            None
        } else {
            match digits(last) {
                Some(b) if b >= a => Some(b),
                _ => return Ranges::Whole, // `5-3` is invalid, not unsatisfiable
            }
        };
        if a < size {
            let end = b.map_or(size, |b| b.saturating_add(1).min(size));
            ranges.push((a, end));
        }
    }
    if specs == 0 {
        return Ranges::Whole;
    }
    if ranges.is_empty() {
        // Go's exception: some clients add a Range to every request, and an empty
        // file has no range to give; send it whole rather than fail.
        return if size == 0 {
            Ranges::Whole
        } else {
            Ranges::Unsatisfiable
        };
    }
    ranges.sort_unstable();
    let (start, mut end) = ranges[0];
    for &(s, e) in &ranges[1..] {
        if s > end {
            return Ranges::Whole; // a gap: more than one range
        }
        end = end.max(e);
    }
    Ranges::One {
        start,
        len: end - start,
    }
}

/// A position: ASCII digits; a number past `u64` saturates (it lies past any file).
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::{parse, Ranges, Ranges::*};

    fn one(start: u64, len: u64) -> Ranges {
        One { start, len }
    }

    #[test]
    fn single_ranges() {
        for (h, want) in [
            ("bytes=0-0", one(0, 1)),
            ("bytes=0-99", one(0, 100)),
            ("bytes=0-", one(0, 100)),
            ("bytes=10-19", one(10, 10)),
            ("bytes=90-200", one(90, 10)),
            ("bytes=99-", one(99, 1)),
            ("bytes=-1", one(99, 1)),
            ("bytes=-10", one(90, 10)),
            ("bytes=-1000", one(0, 100)),
            ("Bytes = 5-6 ", one(5, 2)),
            ("bytes=5-99999999999999999999999", one(5, 95)),
            ("bytes=,5-6,", one(5, 2)),
        ] {
            assert_eq!(parse(h, 100), want, "{h:?}");
        }
    }

    #[test]
    fn unsatisfiable() {
        for h in [
            "bytes=100-",
            "bytes=100-200",
            "bytes=-0",
            "bytes=1000-,2000-3000",
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(parse(h, 100), Unsatisfiable, "{h:?}");
        }
        // An empty file: sent whole, as Go does.
        assert_eq!(parse("bytes=0-", 0), Whole);
        assert_eq!(parse("bytes=-5", 0), Whole);
    }

    #[test]
    fn several_ranges() {
        // Merged when they overlap or touch; whole file when they leave a gap.
        assert_eq!(parse("bytes=0-9,5-19", 100), one(0, 20));
        assert_eq!(parse("bytes=10-19,0-9", 100), one(0, 20));
        assert_eq!(parse("bytes=0-9,200-300", 100), one(0, 10));
        assert_eq!(parse("bytes=0-9,20-29", 100), Whole);
        assert_eq!(parse("bytes=0-0,-1", 100), Whole);
        let many = format!("bytes={}", vec!["0-0"; 101].join(","));
        assert_eq!(parse(&many, 100), Whole);
    }

    #[test]
    fn ignored() {
        for h in [
            "",
            "bytes",
            "bytes=",
            "items=0-5",
            "bytes=5",
            "bytes=a-b",
            "bytes=5-3",
            "bytes=-",
            "bytes=+1-2",
            "bytes=1--2",
            "bytes=0-1,x",
        ] {
            assert_eq!(parse(h, 100), Whole, "{h:?}");
        }
    }
}
