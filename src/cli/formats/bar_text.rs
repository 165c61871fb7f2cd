//! The bytes of one bar as a CSV row or a JSON object, appended to a reused buffer: the hot
//! loop of a large export (issue 15). Numbers come out as [`number_text`](super::number_text)
//! writes them (exactly as Rust's `Display` prints them); timestamps as [`format_instant`]
//! prints them. Nothing here allocates per bar.
//!
//! Nearly every row takes a fast path (issue 24): when its numbers are quotes ([`Decimal`]s)
//! and its timestamp a whole second, the row is laid out by hand in a staging buffer, with
//! fixed-size copies and no call per field. Any other row goes through the general path,
//! field by field, and comes out byte for byte the same.

use chrono::{DateTime, Datelike, Utc};

use super::number_text::{
    ASCII_ZEROS, Decimal, INTEGER_LIMIT, eight_digits, push_f64, push_u64, room, write_integer,
};
use crate::market::{Bar, Volume};
use crate::parquet_files::metadata::format_instant;
use crate::parquet_files::record_batch::{BarColumns, VolumeColumn};

/// Nanoseconds in a second.
const NANOS: i64 = 1_000_000_000;
/// Seconds in a day; bars stamped on whole seconds between 1970 and 9999 take the fast path.
const DAY: i64 = 86_400;
/// 9999-12-31T23:59:59Z: beyond it chrono writes a `+` and more year digits.
const LAST_FAST_SECOND: i64 = 253_402_300_799;

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
        let second = self.second_of_day(seconds);
        self.push_time(out, second);
    }

    /// Appends the instant `nanos` nanoseconds after the epoch as [`push_timestamp`]
    /// does, without building a `DateTime` unless its day changes.
    ///
    /// [`push_timestamp`]: Self::push_timestamp
    pub(super) fn push_timestamp_nanos(&mut self, out: &mut Vec<u8>, nanos: i64) {
        match self.whole_second_of_day(nanos) {
            Some(second) => self.push_time(out, second),
            None => out.extend_from_slice(
                format_instant(DateTime::from_timestamp_nanos(nanos)).as_bytes(),
            ),
        }
    }

    /// The second of its day of the instant `nanos` nanoseconds after the epoch, its day's
    /// text cached, when it is a whole second between 1970 and 9999 (else `None`).
    #[inline]
    fn whole_second_of_day(&mut self, nanos: i64) -> Option<u64> {
        let (seconds, fraction) = (nanos.div_euclid(NANOS), nanos.rem_euclid(NANOS));
        (fraction == 0 && (0..=LAST_FAST_SECOND).contains(&seconds))
            .then(|| self.second_of_day(seconds))
    }

    /// The second of its day of `seconds` after the epoch (before year 10000), its day's text
    /// cached.
    #[inline]
    fn second_of_day(&mut self, seconds: i64) -> u64 {
        let day = seconds / DAY;
        if day != self.day {
            self.cache_day(day);
        }
        (seconds % DAY) as u64
    }

    #[cold]
    fn cache_day(&mut self, day: i64) {
        let date = DateTime::from_timestamp(day * DAY, 0)
            .expect("a day before year 10000")
            .date_naive();
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

    /// Appends the cached date and the time of day `second` (a second on that date).
    fn push_time(&self, out: &mut Vec<u8>, second: u64) {
        let (_, text) = room::<{ Self::TIME }>(out);
        self.write_time(text, second);
    }

    /// Bytes [`BarText::write_time`] writes: `2024-01-02T14:30:00Z`.
    const TIME: usize = 20;

    /// Writes the cached date and the time of day `second` (a second on that date) at the
    /// start of `text`.
    #[inline]
    fn write_time(&self, text: &mut [u8], second: u64) {
        let text = &mut text[..Self::TIME];
        // `00hhmmss` as digits, then `hh:mm:ss`: each pair moved to its place, the colons
        // put between them.
        let digits =
            eight_digits(second / 3600 * 10_000 + second / 60 % 60 * 100 + second % 60) >> 16;
        let time = (digits & 0xFFFF)
            | (digits & 0xFFFF_0000) << 8
            | (digits & 0xFFFF_0000_0000) << 16
            | u64::from(b':') << 16
            | u64::from(b':') << 40;
        text[..11].copy_from_slice(&self.date);
        text[11..19].copy_from_slice(&(time | ASCII_ZEROS).to_le_bytes());
        text[19] = b'Z';
    }

    /// What [`Self::push_csv`] writes for each row of `columns`, read from the columns.
    pub(super) fn push_csv_columns(
        &mut self,
        out: &mut Vec<u8>,
        symbol: &[u8],
        columns: &BarColumns,
    ) {
        self.push_rows::<Csv>(out, &RowStart::new([symbol, b","].concat()), columns);
    }

    /// What [`Self::push_json`] writes for each row of `columns`, read from the columns: as
    /// NDJSON lines (each object followed by a newline) when `lines`, else as elements of a
    /// JSON array (each preceded by `,\n`).
    pub(super) fn push_json_columns(
        &mut self,
        out: &mut Vec<u8>,
        symbol_json: &[u8],
        columns: &BarColumns,
        lines: bool,
    ) {
        let before: &[u8] = if lines { b"" } else { b",\n" };
        let mut start = before.to_vec();
        push_json_symbol(&mut start, symbol_json);
        let start = RowStart::new(start);
        if lines {
            self.push_rows::<JsonLine>(out, &start, columns);
        } else {
            self.push_rows::<JsonObject>(out, &start, columns);
        }
    }

    /// One CSV row and its newline; a missing (non-finite) number is an empty field.
    pub(super) fn push_csv(&mut self, out: &mut Vec<u8>, symbol: &[u8], bar: &Bar) {
        out.extend_from_slice(symbol);
        out.push(b',');
        self.push_timestamp(out, bar.timestamp);
        push_fields::<Csv>(out, &Fields::of(bar));
    }

    /// One JSON object, without separator or newline; `symbol_json` is the symbol already
    /// quoted and escaped; a missing (non-finite) number is `null`.
    pub(super) fn push_json(&mut self, out: &mut Vec<u8>, symbol_json: &[u8], bar: &Bar) {
        push_json_symbol(out, symbol_json);
        self.push_timestamp(out, bar.timestamp);
        push_fields::<JsonObject>(out, &Fields::of(bar));
    }

    /// Each row of `columns`: `start`, the timestamp, the fields laid out as `L`.
    fn push_rows<L: Layout>(&mut self, out: &mut Vec<u8>, start: &RowStart, columns: &BarColumns) {
        let c = Slices::of(columns);
        let mut staged = Staged::new();
        for (i, &t) in c.ts.iter().enumerate() {
            let fields = c.fields(i);
            if !self.stage_short_row::<L>(&mut staged, out, start, t, &fields) {
                staged.flush(out);
                start.push_to(out);
                self.push_timestamp_nanos(out, t);
                push_fields::<L>(out, &fields);
            }
        }
        staged.flush(out);
    }

    /// The fast path of a row, taken by nearly every bar: when the row's start fits its
    /// padding, the timestamp is a whole second and every number is a [`Decimal`] or an
    /// integer below [`INTEGER_LIMIT`], writes the whole row into `staged` (which may first
    /// hand what it holds to `out`) and returns true; else returns false, writing nothing.
    #[inline]
    fn stage_short_row<L: Layout>(
        &mut self,
        staged: &mut Staged,
        out: &mut Vec<u8>,
        start: &RowStart,
        nanos: i64,
        fields: &Fields,
    ) -> bool {
        let Some(row_start) = start.padded() else {
            return false;
        };
        let Some(numbers) = ShortNumbers::of(fields) else {
            return false;
        };
        let Some(second) = self.whole_second_of_day(nanos) else {
            return false;
        };
        let text = staged.room(out);
        text[..RowStart::PADDED].copy_from_slice(row_start);
        let mut len = start.len();
        self.write_time(&mut text[len..], second);
        len += Self::TIME;
        for (before, price) in L::BEFORE.iter().zip(numbers.prices) {
            len += put(&mut text[len..], before);
            len += price.write(&mut text[len..]);
        }
        len += put(&mut text[len..], L::BEFORE[4]);
        len += match numbers.volume {
            ShortVolume::Shares(n) => write_integer(&mut text[len..], n),
            ShortVolume::Units(units) => units.write(&mut text[len..]),
        };
        len += put(&mut text[len..], L::BEFORE[5]);
        len += write_integer(&mut text[len..], numbers.trades);
        len += put(&mut text[len..], L::BEFORE[6]);
        len += numbers.vwap.write(&mut text[len..]);
        len += put(&mut text[len..], L::END);
        staged.len += len;
        true
    }
}

/// Room [`BarText::stage_short_row`] takes for a row: its start ([`RowStart::PADDED`]), the
/// timestamp, the longest layout's text (JSON: 68 bytes), five [`Decimal`]s of at most 17
/// bytes and two integers of at most 16, with the room the last number writes beyond its
/// text: under 280 bytes.
const SHORT_ROW: usize = 320;

/// Rows of the fast path gathered on the stack, and appended to the chunk's text a few
/// kilobytes at a time: room for a row in a `Vec` must be zeroed first (a call to `memset`
/// per row), room here was zeroed once.
struct Staged {
    bytes: [u8; Self::SIZE],
    len: usize,
}

impl Staged {
    const SIZE: usize = 8192;

    fn new() -> Self {
        Self {
            bytes: [0; Self::SIZE],
            len: 0,
        }
    }

    /// Room for a row after what is staged, once what is staged is appended to `out` when
    /// there is too little left.
    #[inline]
    fn room(&mut self, out: &mut Vec<u8>) -> &mut [u8; SHORT_ROW] {
        if self.len > Self::SIZE - SHORT_ROW {
            self.flush(out);
        }
        <&mut [u8; SHORT_ROW]>::try_from(&mut self.bytes[self.len..self.len + SHORT_ROW])
            .expect("a row's room")
    }

    /// Appends what is staged to `out`.
    fn flush(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.bytes[..self.len]);
        self.len = 0;
    }
}

/// Writes `piece` at the start of `text`; returns its length.
#[inline(always)]
fn put(text: &mut [u8], piece: &[u8]) -> usize {
    text[..piece.len()].copy_from_slice(piece);
    piece.len()
}

/// The numbers of a row when [`BarText::stage_short_row`] can write them all.
struct ShortNumbers {
    prices: [Decimal; 4],
    volume: ShortVolume,
    trades: u64,
    vwap: Decimal,
}

enum ShortVolume {
    Shares(u64),
    Units(Decimal),
}

impl ShortNumbers {
    #[inline]
    fn of(f: &Fields) -> Option<Self> {
        let [open, high, low, close] = f.prices;
        Some(Self {
            prices: [
                Decimal::of(open)?,
                Decimal::of(high)?,
                Decimal::of(low)?,
                Decimal::of(close)?,
            ],
            volume: match f.volume {
                Volume::Shares(n) => ShortVolume::Shares((n < INTEGER_LIMIT).then_some(n)?),
                Volume::Units(x) => ShortVolume::Units(Decimal::of(x)?),
            },
            trades: (f.trades < INTEGER_LIMIT).then_some(f.trades)?,
            vwap: Decimal::of(f.vwap)?,
        })
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
/// (non-finite) number. Constants of a type, not values, so that each piece is appended with
/// a copy of a size known at compile time.
trait Layout {
    const BEFORE: [&'static [u8]; 7];
    const END: &'static [u8];
    const MISSING: &'static [u8];
}

/// `,open,high,low,close,volume,trade_count,vwap` and the newline; a missing number is an
/// empty field.
struct Csv;

impl Layout for Csv {
    const BEFORE: [&'static [u8]; 7] = [b","; 7];
    const END: &'static [u8] = b"\n";
    const MISSING: &'static [u8] = b"";
}

/// The rest of a JSON object after its timestamp's text, to its closing brace; a missing
/// number is `null`.
struct JsonObject;

/// The keys of a JSON object's fields after its timestamp, with what separates them.
const JSON_BEFORE: [&[u8]; 7] = [
    b"\",\"open\":",
    b",\"high\":",
    b",\"low\":",
    b",\"close\":",
    b",\"volume\":",
    b",\"trade_count\":",
    b",\"vwap\":",
];

impl Layout for JsonObject {
    const BEFORE: [&'static [u8]; 7] = JSON_BEFORE;
    const END: &'static [u8] = b"}";
    const MISSING: &'static [u8] = b"null";
}

/// [`JsonObject`] and the newline that ends an NDJSON line.
struct JsonLine;

impl Layout for JsonLine {
    const BEFORE: [&'static [u8]; 7] = JSON_BEFORE;
    const END: &'static [u8] = b"}\n";
    const MISSING: &'static [u8] = b"null";
}

#[inline]
fn push_fields<L: Layout>(out: &mut Vec<u8>, f: &Fields) {
    let number = |out: &mut Vec<u8>, before: &[u8], x: f64| {
        out.extend_from_slice(before);
        if x.is_finite() {
            push_f64(out, x);
        } else {
            out.extend_from_slice(L::MISSING);
        }
    };
    number(out, L::BEFORE[0], f.prices[0]);
    number(out, L::BEFORE[1], f.prices[1]);
    number(out, L::BEFORE[2], f.prices[2]);
    number(out, L::BEFORE[3], f.prices[3]);
    out.extend_from_slice(L::BEFORE[4]);
    match f.volume {
        Volume::Shares(n) => push_u64(out, n),
        Volume::Units(x) => {
            if x.is_finite() {
                push_f64(out, x);
            } else {
                out.extend_from_slice(L::MISSING);
            }
        }
    }
    out.extend_from_slice(L::BEFORE[5]);
    push_u64(out, f.trades);
    number(out, L::BEFORE[6], f.vwap);
    out.extend_from_slice(L::END);
}

/// The text every row of a chunk starts with (its symbol, and for JSON what comes before
/// it). When it fits in [`RowStart::PADDED`] bytes, it is appended as all of them (a copy of
/// a size known at compile time, no call to `memcpy`), then cut to its length.
struct RowStart {
    padded: [u8; Self::PADDED],
    text: Vec<u8>,
}

impl RowStart {
    const PADDED: usize = 64;

    fn new(text: Vec<u8>) -> Self {
        let mut padded = [0; Self::PADDED];
        if let Some(start) = padded.get_mut(..text.len()) {
            start.copy_from_slice(&text);
        }
        Self { padded, text }
    }

    /// The padded text, when it fits.
    fn padded(&self) -> Option<&[u8; Self::PADDED]> {
        (self.text.len() <= Self::PADDED).then_some(&self.padded)
    }

    fn len(&self) -> usize {
        self.text.len()
    }

    fn push_to(&self, out: &mut Vec<u8>) {
        if self.text.len() <= Self::PADDED {
            out.extend_from_slice(&self.padded);
            out.truncate(out.len() - (Self::PADDED - self.text.len()));
        } else {
            out.extend_from_slice(&self.text);
        }
    }
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

    proptest! {
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
