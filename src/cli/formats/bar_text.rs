//! The bytes of one bar as a CSV row or a JSON object, appended to a reused buffer: the hot
//! loop of a large export (issue 15). Numbers come out exactly as Rust's `Display` prints
//! them (the shortest text that parses back to the same `f64`, never in exponent notation,
//! `-0` for negative zero); timestamps as [`format_instant`] prints them. Nothing here
//! allocates per bar.

use chrono::{DateTime, Datelike, Utc};

use crate::market::{Bar, Volume};
use crate::parquet_files::metadata::format_instant;
use crate::parquet_files::record_batch::{BarColumns, VolumeColumn};

/// Nanoseconds in a second.
const NANOS: i64 = 1_000_000_000;
/// Seconds in a day; bars stamped on whole seconds between 1970 and 9999 take the fast path.
const DAY: i64 = 86_400;
/// 9999-12-31T23:59:59Z: beyond it chrono writes a `+` and more year digits.
const LAST_FAST_SECOND: i64 = 253_402_300_799;

/// Appends `x` as Rust's `Display` would print it. `ryu` finds the same shortest digits, but
/// prints `1.0`, `-0.0`, `1e21` and `1e-7`; this lays those digits out as `1`, `-0`,
/// `1000000000000000000000` and `0.0000001`. The one case where the two pick different
/// digits, a value exactly halfway between two shortest candidates (`ryu` rounds half to
/// even, `Display` half up), needs 16 or 17 digits; those are checked and, when a neighbour
/// also parses back to `x`, printed by `Display` itself.
pub(super) fn push_f64(out: &mut Vec<u8>, x: f64) {
    debug_assert!(x.is_finite());
    if push_short_decimal(out, x) {
        return;
    }
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(x).as_bytes();
    let (negative, unsigned) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    // `ryu` writes `d`, `d.ddd`, `0.000ddd` or `d.ddde-N`: the digits, and the power of ten
    // of the first one.
    let (mantissa, exponent) = match unsigned.iter().position(|&b| b == b'e') {
        Some(e) => {
            let exponent = std::str::from_utf8(&unsigned[e + 1..])
                .ok()
                .and_then(|e| e.parse::<i32>().ok())
                .unwrap_or(0);
            (&unsigned[..e], exponent)
        }
        None => {
            let point = unsigned
                .iter()
                .position(|&b| b == b'.')
                .unwrap_or(unsigned.len());
            (unsigned, point as i32 - 1)
        }
    };
    let mut digits = [0u8; 24];
    let mut len = 0;
    for &b in mantissa.iter().filter(|b| b.is_ascii_digit()) {
        digits[len] = b;
        len += 1;
    }
    // Leading zeros (`0.000123`) and a trailing `.0` are not significant digits.
    let leading = digits[..len].iter().take_while(|&&d| d == b'0').count();
    let trailing = digits[leading..len]
        .iter()
        .rev()
        .take_while(|&&d| d == b'0')
        .count();
    let (exponent, digits) = if leading == len {
        (0, &b"0"[..])
    } else {
        (exponent - leading as i32, &digits[leading..len - trailing])
    };
    if digits.len() >= 16 && tie_possible(digits, exponent, x) {
        use std::io::Write;
        let _ = write!(out, "{x}");
        return;
    }
    if negative {
        out.push(b'-');
    }
    // The decimal point falls after `point` digits.
    let point = exponent + 1;
    if point <= 0 {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + point.unsigned_abs() as usize, b'0');
        out.extend_from_slice(digits);
    } else if point as usize >= digits.len() {
        out.extend_from_slice(digits);
        out.resize(out.len() + point as usize - digits.len(), b'0');
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        out.extend_from_slice(whole);
        out.push(b'.');
        out.extend_from_slice(fraction);
    }
}

/// Powers of ten exactly representable as `f64`.
const POW10: [f64; 10] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
/// Below this many units of the last place, no two decimals with as many fraction digits
/// parse to the same `f64` (their spacing exceeds its precision), so the one found is the
/// only, hence the closest, candidate.
const SHORT_LIMIT: f64 = 1e15;

/// The fast path for what markets quote (`187.15`, `0.0001`, `185.949847`): finds the fewest
/// fraction digits `k <= 9` for which `m / 10^k` (`m` an integer below 10^15) is exactly `x`
/// once rounded, and prints `m` with its point. That decimal parses back to `x` (the division
/// and the parse both round the same rational to the nearest `f64`), and no decimal with fewer
/// digits does, so it is the one `Display` prints. Returns false, writing nothing, otherwise.
///
/// Below 10^6, `x * 10^9` is within 0.2 of such an `m * 10^(9 - k)` when one exists, so
/// rounding it and dropping its trailing zeros finds `m` and `k` with one multiplication and
/// one division to check.
fn push_short_decimal(out: &mut Vec<u8>, x: f64) -> bool {
    let magnitude = x.abs();
    if magnitude == 0.0 {
        out.extend_from_slice(if x.is_sign_negative() { b"-0" } else { b"0" });
        return true;
    }
    let (m, k) = if magnitude < 1e6 {
        // Below 10^15, so exact as u64; adding 0.5 is exact too (below 2^52), so this
        // rounds half up like `f64::round`, without a call into libm.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let mut m = (magnitude * 1e9 + 0.5) as u64;
        let mut k = 9;
        // Drop up to 9 trailing zeros in steps of 8, 4, 2 and 1 (fewer dependent divisions
        // than one at a time: a price like 200.25 has seven).
        for (step, unit) in [(8, 100_000_000), (4, 10_000), (2, 100), (1, 10)] {
            if k >= step && m.is_multiple_of(unit) {
                m /= unit;
                k -= step;
            }
        }
        #[allow(clippy::cast_precision_loss)]
        if m as f64 / POW10[k] != magnitude {
            return false;
        }
        (m, k)
    } else {
        let Some(found) = POW10.iter().enumerate().find_map(|(k, &scale)| {
            let m = (magnitude * scale).round();
            (m < SHORT_LIMIT && m / scale == magnitude).then_some((m, k))
        }) else {
            return false;
        };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        (found.0 as u64, found.1)
    };
    if x < 0.0 {
        out.push(b'-');
    }
    // The digits of `m`, the point placed `k` digits from their end.
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(m).as_bytes();
    match digits.len().checked_sub(k) {
        Some(0) | None => {
            out.extend_from_slice(b"0.");
            out.resize(out.len() + (k - digits.len()), b'0');
            out.extend_from_slice(digits);
        }
        Some(whole) if k == 0 => out.extend_from_slice(&digits[..whole]),
        Some(whole) => {
            out.extend_from_slice(&digits[..whole]);
            out.push(b'.');
            out.extend_from_slice(&digits[whole..]);
        }
    }
    true
}

/// Whether the candidate one unit above or below `digits` (in their last place) parses back
/// to `x` as well: then `ryu` and `Display` may break the tie differently.
fn tie_possible(digits: &[u8], exponent: i32, x: f64) -> bool {
    let n = digits
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    let scale = exponent - digits.len() as i32 + 1;
    [n + 1, n - 1].into_iter().any(|m| {
        format!("{m}e{scale}")
            .parse::<f64>()
            .is_ok_and(|y| y == x.abs())
    })
}

/// The columns of a [`BarColumns`], each looked up once per chunk.
struct Slices<'a> {
    ts: &'a [i64],
    open: &'a [f64],
    high: &'a [f64],
    low: &'a [f64],
    close: &'a [f64],
    volume: VolumeColumn<'a>,
    trades: &'a [u64],
    vwap: &'a [f64],
}

impl<'a> Slices<'a> {
    /// The fields of row `i` after its timestamp.
    fn fields(&self, i: usize) -> Fields {
        Fields {
            prices: [self.open[i], self.high[i], self.low[i], self.close[i]],
            volume: match self.volume {
                VolumeColumn::Shares(v) => Volume::Shares(v[i]),
                VolumeColumn::Units(v) => Volume::Units(v[i]),
            },
            trades: self.trades[i],
            vwap: self.vwap[i],
        }
    }

    fn of(columns: &'a BarColumns) -> Self {
        Self {
            ts: columns.timestamps(),
            open: columns.open(),
            high: columns.high(),
            low: columns.low(),
            close: columns.close(),
            volume: columns.volume(),
            trades: columns.trade_count(),
            vwap: columns.vwap(),
        }
    }
}

pub(super) fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Writes bars of one series; remembers the text of the last day it wrote, since a minute
/// series has hundreds of bars per day.
pub(super) struct BarText {
    day: i64,
    date: [u8; 11],
}

impl Default for BarText {
    fn default() -> Self {
        Self {
            day: i64::MIN,
            date: *b"1970-01-01T",
        }
    }
}

impl BarText {
    /// Appends `t` as [`format_instant`] prints it: `2024-01-02T14:30:00Z`.
    pub(super) fn push_timestamp(&mut self, out: &mut Vec<u8>, t: DateTime<Utc>) {
        let seconds = t.timestamp();
        if t.timestamp_subsec_nanos() != 0 || !(0..=LAST_FAST_SECOND).contains(&seconds) {
            out.extend_from_slice(format_instant(t).as_bytes());
            return;
        }
        self.push_whole_second(out, t, seconds);
    }

    /// Appends the instant `nanos` nanoseconds after the epoch as [`push_timestamp`]
    /// does, without building a `DateTime` unless its day changes.
    ///
    /// [`push_timestamp`]: Self::push_timestamp
    pub(super) fn push_timestamp_nanos(&mut self, out: &mut Vec<u8>, nanos: i64) {
        let (seconds, fraction) = (nanos.div_euclid(NANOS), nanos.rem_euclid(NANOS));
        let t = || DateTime::from_timestamp_nanos(nanos);
        if fraction != 0 || !(0..=LAST_FAST_SECOND).contains(&seconds) {
            out.extend_from_slice(format_instant(t()).as_bytes());
            return;
        }
        if seconds / DAY == self.day {
            self.push_time_of_day(out, seconds);
        } else {
            self.push_whole_second(out, t(), seconds);
        }
    }

    /// `t`, on a whole second `seconds` after the epoch and before year 10000.
    fn push_whole_second(&mut self, out: &mut Vec<u8>, t: DateTime<Utc>, seconds: i64) {
        let day = seconds / DAY;
        if day != self.day {
            let date = t.date_naive();
            let (year, month, mday) = (date.year() as u32, date.month(), date.day());
            let digit = |n: u32| b'0' + (n % 10) as u8;
            self.date = [
                digit(year / 1000),
                digit(year / 100),
                digit(year / 10),
                digit(year),
                b'-',
                digit(month / 10),
                digit(month),
                b'-',
                digit(mday / 10),
                digit(mday),
                b'T',
            ];
            self.day = day;
        }
        self.push_time_of_day(out, seconds);
    }

    /// The cached date, then the time of day of `seconds` (a whole second on that date).
    fn push_time_of_day(&self, out: &mut Vec<u8>, seconds: i64) {
        let second = seconds % DAY;
        out.extend_from_slice(&self.date);
        let (h, m, s) = (second / 3600, second / 60 % 60, second % 60);
        let two = |n: i64| [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
        out.extend_from_slice(&two(h));
        out.push(b':');
        out.extend_from_slice(&two(m));
        out.push(b':');
        out.extend_from_slice(&two(s));
        out.push(b'Z');
    }

    /// What [`Self::push_csv`] writes for each row of `columns`, read from the columns.
    pub(super) fn push_csv_columns(
        &mut self,
        out: &mut Vec<u8>,
        symbol: &[u8],
        columns: &BarColumns,
    ) {
        let c = Slices::of(columns);
        for (i, &t) in c.ts.iter().enumerate() {
            out.extend_from_slice(symbol);
            out.push(b',');
            self.push_timestamp_nanos(out, t);
            push_fields(out, &c.fields(i), &CSV);
        }
    }

    /// What [`Self::push_json`] writes for each row of `columns`, read from the columns, each
    /// object preceded by `before` and followed by `after`.
    pub(super) fn push_json_columns(
        &mut self,
        out: &mut Vec<u8>,
        symbol_json: &[u8],
        columns: &BarColumns,
        (before, after): (&[u8], &[u8]),
    ) {
        let c = Slices::of(columns);
        for (i, &t) in c.ts.iter().enumerate() {
            out.extend_from_slice(before);
            push_json_symbol(out, symbol_json);
            self.push_timestamp_nanos(out, t);
            push_fields(out, &c.fields(i), &JSON);
            out.extend_from_slice(after);
        }
    }

    /// One CSV row and its newline; a missing (non-finite) number is an empty field.
    pub(super) fn push_csv(&mut self, out: &mut Vec<u8>, symbol: &[u8], bar: &Bar) {
        out.extend_from_slice(symbol);
        out.push(b',');
        self.push_timestamp(out, bar.timestamp);
        push_fields(out, &Fields::of(bar), &CSV);
    }

    /// One JSON object, without separator or newline; `symbol_json` is the symbol already
    /// quoted and escaped; a missing (non-finite) number is `null`.
    pub(super) fn push_json(&mut self, out: &mut Vec<u8>, symbol_json: &[u8], bar: &Bar) {
        push_json_symbol(out, symbol_json);
        self.push_timestamp(out, bar.timestamp);
        push_fields(out, &Fields::of(bar), &JSON);
    }
}

/// The fields of a bar after its timestamp.
struct Fields {
    prices: [f64; 4],
    volume: Volume,
    trades: u64,
    vwap: f64,
}

impl Fields {
    fn of(bar: &Bar) -> Self {
        Self {
            prices: [bar.open, bar.high, bar.low, bar.close],
            volume: bar.volume,
            trades: bar.trade_count,
            vwap: bar.vwap,
        }
    }
}

/// How the fields after the timestamp are laid out: the text before each of them (open,
/// high, low, close, volume, trade_count, vwap), after the last, and for a missing
/// (non-finite) number.
struct Layout {
    before: [&'static [u8]; 7],
    end: &'static [u8],
    missing: &'static [u8],
}

/// `,open,high,low,close,volume,trade_count,vwap` and the newline; a missing number is an
/// empty field.
const CSV: Layout = Layout {
    before: [b","; 7],
    end: b"\n",
    missing: b"",
};

/// The rest of a JSON object after its timestamp's text, to its closing brace; a missing
/// number is `null`.
const JSON: Layout = Layout {
    before: [
        b"\",\"open\":",
        b",\"high\":",
        b",\"low\":",
        b",\"close\":",
        b",\"volume\":",
        b",\"trade_count\":",
        b",\"vwap\":",
    ],
    end: b"}",
    missing: b"null",
};

fn push_fields(out: &mut Vec<u8>, f: &Fields, layout: &Layout) {
    let number = |out: &mut Vec<u8>, x: f64| {
        if x.is_finite() {
            push_f64(out, x);
        } else {
            out.extend_from_slice(layout.missing);
        }
    };
    for (before, x) in layout.before.iter().zip(f.prices) {
        out.extend_from_slice(before);
        number(out, x);
    }
    out.extend_from_slice(layout.before[4]);
    match f.volume {
        Volume::Shares(n) => push_u64(out, n),
        Volume::Units(x) => number(out, x),
    }
    out.extend_from_slice(layout.before[5]);
    push_u64(out, f.trades);
    out.extend_from_slice(layout.before[6]);
    number(out, f.vwap);
    out.extend_from_slice(layout.end);
}

/// A JSON object up to its timestamp's text.
fn push_json_symbol(out: &mut Vec<u8>, symbol_json: &[u8]) {
    out.extend_from_slice(b"{\"symbol\":");
    out.extend_from_slice(symbol_json);
    out.extend_from_slice(b",\"timestamp\":\"");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(x: f64) -> String {
        let mut out = Vec::new();
        push_f64(&mut out, x);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn numbers_print_as_display_does() {
        let cases = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.0001,
            1e-7,
            -1e-7,
            1.5e-7,
            123_456_789.5,
            1e15,
            1e16,
            1e21,
            1.234_567_89e22,
            0.1 + 0.2,
            187.15,
            185.949_847,
            0.000_000_001,
            12.345_678_912,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            9_007_199_254_740_993.0,
        ];
        for x in cases {
            assert_eq!(text(x), x.to_string(), "{x:e}");
        }
        assert_eq!(text(1e21), "1000000000000000000000");
        assert_eq!(text(1e-7), "0.0000001");
    }

    proptest! {
        #[test]
        fn any_finite_number_prints_as_display_does(bits in any::<u64>()) {
            let x = f64::from_bits(bits);
            prop_assume!(x.is_finite());
            prop_assert_eq!(text(x), x.to_string());
        }

        #[test]
        fn prices_print_as_display_does(cents in 0u64..10_000_000_000, scale in 0i32..12) {
            let x = cents as f64 / 10f64.powi(scale);
            prop_assert_eq!(text(x), x.to_string());
        }

        #[test]
        fn timestamps_print_as_format_instant_does(
            seconds in -100_000_000_000i64..300_000_000_000,
            nanos in prop_oneof![Just(0u32), 0u32..2_000_000_000],
        ) {
            let Some(t) = DateTime::from_timestamp(seconds, nanos) else {
                return Ok(());
            };
            let mut writer = BarText::default();
            let mut out = Vec::new();
            writer.push_timestamp(&mut out, t);
            // Twice: the second comes from the cached day.
            writer.push_timestamp(&mut out, t);
            let once = format_instant(t);
            prop_assert_eq!(String::from_utf8(out).unwrap(), format!("{once}{once}"));
        }
    }
}
