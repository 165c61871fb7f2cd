//! The text of a number as Rust's `Display` prints it (the shortest text that parses back to
//! the same `f64`, never in exponent notation, `-0` for negative zero), appended to a reused
//! buffer: the numbers of CSV rows and JSON objects ([`bar_text`](super::bar_text)), the hot
//! loop of a large export (issues 15 and 24).
//!
//! Quotes (below 10^6, at most nine fraction digits) take a fast path, [`Decimal`]: found in
//! billionths, checked exactly in integers to parse back to the same `f64`, and laid out
//! eight digits at a time in one register ([`eight_digits`]). Integers below 10^16 take the
//! same digits. Anything else goes through `ryu` and comes out byte for byte the same.

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
    push_long_f64(out, x);
}

/// [`push_f64`] for what [`push_short_decimal`] does not cover: `ryu`'s digits, laid out as
/// `Display` lays them out.
#[cold]
#[inline(never)]
fn push_long_f64(out: &mut Vec<u8>, x: f64) {
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
/// Billionths in a unit: the fast path's nine fraction digits.
const BILLION: u64 = 1_000_000_000;
/// Added to a byte holding a digit's value (0-9), gives its ASCII code; ORed into `:` too,
/// leaves it alone.
pub(super) const ASCII_ZEROS: u64 = 0x3030_3030_3030_3030;

/// The eight decimal digits of `n` (below 10^8, leading zeros kept) as the bytes of a
/// little-endian `u64`, most significant digit first: each byte holds a digit's value (0-9),
/// not yet its ASCII code. Computed in one register, four lanes at a time (issue 24: the
/// export's hot loop; a table of digit pairs written byte by byte and read back cost a stall
/// per number).
pub(super) fn eight_digits(n: u64) -> u64 {
    debug_assert!(n < 100_000_000);
    // Two 32-bit lanes of four digits; the high four in the low lane (first in memory).
    let fours = (n / 10_000) | ((n % 10_000) << 32);
    // Each lane split into two 16-bit lanes of two digits: below 10^4, x / 100 is
    // (x * 10486) >> 20, and the products stay inside their lanes.
    let hundreds = ((fours * 10_486) >> 20) & 0x0000_007F_0000_007F;
    let pairs = hundreds | (fours - hundreds * 100) << 16;
    // Each pair split into two 8-bit lanes of one digit: below 100, x / 10 is (x * 103) >> 10.
    let tens = ((pairs * 103) >> 10) & 0x000F_000F_000F_000F;
    tens | (pairs - tens * 10) << 8
}

/// How many leading zeros the digits of [`eight_digits`] have (8 for zero).
fn leading_zero_digits(digits: u64) -> usize {
    // A non-zero digit's byte has at most three trailing zero bits.
    (digits.trailing_zeros() / 8) as usize
}

/// How many trailing zeros the digits of [`eight_digits`] have (8 for zero).
fn trailing_zero_digits(digits: u64) -> usize {
    // A digit's byte has at least four leading zero bits, a non-zero one at most seven.
    (digits.leading_zeros() / 8) as usize
}

/// Appends `N` zero bytes to `out` and returns where they start and the bytes themselves, to
/// be written in place and cut to length with `truncate`: the hot loop writes each number
/// straight into the chunk's text, in whole words, with no copy through the stack and no call
/// to `memcpy` (issue 24).
pub(super) fn room<const N: usize>(out: &mut Vec<u8>) -> (usize, &mut [u8; N]) {
    let start = out.len();
    out.extend_from_slice(&[0; N]);
    let room = <&mut [u8; N]>::try_from(&mut out[start..]).expect("N bytes were appended");
    (start, room)
}

/// The fast path for what markets quote (`187.15`, `0.0001`, `185.949847`, `-0`): appends
/// the text of `x` when it has at most nine fraction digits and fewer than 16 significant
/// ones, laid out by hand, and returns true; returns false, writing nothing, otherwise.
#[inline]
fn push_short_decimal(out: &mut Vec<u8>, x: f64) -> bool {
    if x.abs() >= 1e6 {
        return push_large_short_decimal(out, x);
    }
    let Some(decimal) = Decimal::of(x) else {
        return false;
    };
    let (start, text) = room::<{ Decimal::ROOM }>(out);
    let len = decimal.write(text);
    out.truncate(start + len);
    true
}

/// A number below 10^6 in magnitude with at most nine fraction digits, as billionths: what
/// [`push_short_decimal`] writes.
#[derive(Clone, Copy)]
pub(super) struct Decimal {
    negative: bool,
    nanos: u64,
}

impl Decimal {
    /// Bytes [`Decimal::write`] may write (at most 17 of them are kept).
    pub(super) const ROOM: usize = 24;

    /// `x` when it is such a number (not when it is not finite).
    #[inline]
    pub(super) fn of(x: f64) -> Option<Self> {
        let magnitude = x.abs();
        if magnitude.is_nan() || magnitude >= 1e6 {
            return None;
        }
        let nanos = if magnitude == 0.0 {
            0
        } else {
            nanos_exactly(magnitude)?
        };
        Some(Self {
            negative: x.is_sign_negative(),
            nanos,
        })
    }

    /// Writes the text at the start of `text` (at least [`Decimal::ROOM`] bytes; what follows
    /// its length is scratch); returns its length.
    #[inline]
    pub(super) fn write(self, text: &mut [u8]) -> usize {
        let text = &mut text[..Self::ROOM];
        // Overwritten by the first digit when the number is positive.
        text[0] = b'-';
        let mut len = usize::from(self.negative);
        if self.nanos.is_multiple_of(100_000) && self.nanos < 10_000 * BILLION {
            // Most quotes: below 10^4 with at most four fraction digits, so one call to
            // `eight_digits` finds them all, four before the point and four after it.
            let digits = eight_digits(self.nanos / 100_000);
            let (whole, fraction) = (digits & 0xFFFF_FFFF, (digits >> 32) as u32);
            let leading = leading_zero_digits(whole).min(3);
            text[len..len + 8]
                .copy_from_slice(&((whole >> (8 * leading)) | ASCII_ZEROS).to_le_bytes());
            len += 4 - leading;
            if fraction != 0 {
                text[len] = b'.';
                text[len + 1..len + 5].copy_from_slice(&(fraction | 0x3030_3030).to_le_bytes());
                len += 5 - (fraction.leading_zeros() / 8) as usize;
            }
            return len;
        }
        // Below 10^15: the high eight digits are the whole part (below 10^6, so its first
        // digit is a zero) and the first fraction digit, the low eight the other fraction
        // digits.
        let (high, low) = (
            eight_digits(self.nanos / 100_000_000),
            eight_digits(self.nanos % 100_000_000),
        );
        let whole = high & 0x00FF_FFFF_FFFF_FFFF;
        let first_fraction_digit = high >> 56;
        // At least one digit (`0`) before the point.
        let leading = leading_zero_digits(whole).min(6);
        text[len..len + 8].copy_from_slice(&((whole >> (8 * leading)) | ASCII_ZEROS).to_le_bytes());
        len += 7 - leading;
        if first_fraction_digit != 0 || low != 0 {
            text[len] = b'.';
            text[len + 1..len + 9]
                .copy_from_slice(&(low << 8 | first_fraction_digit | ASCII_ZEROS).to_le_bytes());
            text[len + 9] = b'0' + (low >> 56) as u8;
            // When `low` is zero, the first fraction digit is not: the fraction is that digit.
            len += 2 + 8 - trailing_zero_digits(low);
        }
        len
    }
}

/// Below this, [`write_integer`] writes an integer (any share count or number of trades).
pub(super) const INTEGER_LIMIT: u64 = 10_000_000_000_000_000;
/// Bytes [`write_integer`] may write.
const INTEGER_ROOM: usize = 16;

/// Writes `n`, below [`INTEGER_LIMIT`], at the start of `text` (at least [`INTEGER_ROOM`]
/// bytes; what follows its length is scratch), eight digits at a time as [`eight_digits`]
/// finds them; returns its length.
#[inline]
pub(super) fn write_integer(text: &mut [u8], n: u64) -> usize {
    debug_assert!(n < INTEGER_LIMIT);
    let text = &mut text[..INTEGER_ROOM];
    let (high, low) = (n / 100_000_000, n % 100_000_000);
    if high == 0 {
        let digits = eight_digits(low);
        let leading = leading_zero_digits(digits).min(7);
        text[..8].copy_from_slice(&((digits >> (8 * leading)) | ASCII_ZEROS).to_le_bytes());
        8 - leading
    } else {
        let digits = eight_digits(high);
        let leading = leading_zero_digits(digits);
        text[..8].copy_from_slice(&((digits >> (8 * leading)) | ASCII_ZEROS).to_le_bytes());
        let rest = 8 - leading;
        text[rest..rest + 8].copy_from_slice(&(eight_digits(low) | ASCII_ZEROS).to_le_bytes());
        rest + 8
    }
}

/// `magnitude * 10^9`, for a `magnitude` above zero and below 10^6, when that is an integer
/// `n` whose decimal `n / 10^9` parses back to `magnitude`. Then that decimal, its trailing
/// zeros dropped, is the one `Display` prints: no decimal with fewer digits parses back to
/// it (it would be a multiple of 10^-9 too, and the range that parses to `magnitude` is
/// narrower than 10^-9 below 10^6, so it holds one multiple at most).
///
/// `magnitude * 10^9`, rounded, is `n` when one exists: the product's rounding adds at most
/// 1/16 to it, and `n / 10^9` is within 0.06 units of `magnitude * 10^9`. The check is exact,
/// in integers: with `magnitude = s / 2^shift` (`s` its 53-bit significand), the decimal
/// parses back to it when `|n / 10^9 - s / 2^shift|` is below half a unit of its last place,
/// `2^-(shift + 1)`. Scaled by `2 * 10^9 * 2^shift` that is `|n * 2^(shift + 1) - 2 * 10^9 *
/// s|` below `10^9`, both terms below 2^85 in `u128`. It is never equal (no tie to break):
/// both terms are multiples of 2^10, and 10^9 is not. A power of two (the gap below it is
/// half the gap above) or a subnormal takes the division instead, which rounds as the parse
/// does.
#[inline]
fn nanos_exactly(magnitude: f64) -> Option<u64> {
    debug_assert!(magnitude > 0.0 && magnitude < 1e6);
    // Below 10^15, so exact as u64; adding 0.5 is exact too (below 2^52), so this rounds
    // half up like `f64::round`, without a call into libm.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    // Through i64, one instruction on x86-64 (u64 takes several), exact below 2^63.
    let n = (magnitude * 1e9 + 0.5) as i64 as u64;
    if n == 0 {
        return None;
    }
    let bits = magnitude.to_bits();
    let (exponent, fraction) = ((bits >> 52) as i32, bits & ((1 << 52) - 1));
    if exponent == 0 || fraction == 0 {
        #[allow(clippy::cast_precision_loss)]
        return (n as f64 / 1e9 == magnitude).then_some(n);
    }
    let significand = u128::from(fraction | 1 << 52);
    // magnitude = significand / 2^shift; n >= 1 puts it above 2^-31, so shift <= 83.
    let shift = 1075 - exponent;
    debug_assert!((33..=83).contains(&shift));
    let billion = u128::from(BILLION);
    let distance = (u128::from(n) << (shift + 1)).abs_diff(significand * 2 * billion);
    (distance < billion).then_some(n)
}

/// [`push_short_decimal`] from 10^6 up: the fewest fraction digits `k <= 9` for which
/// `m / 10^k` (`m` an integer below 10^15) is exactly `x` once rounded. That decimal parses
/// back to it (the division and the parse both round the same rational to the nearest
/// `f64`), and none with fewer digits does.
#[inline(never)]
fn push_large_short_decimal(out: &mut Vec<u8>, x: f64) -> bool {
    let magnitude = x.abs();
    let Some((m, k)) = POW10.iter().enumerate().find_map(|(k, &scale)| {
        let m = (magnitude * scale).round();
        (m < SHORT_LIMIT && m / scale == magnitude).then_some((m, k))
    }) else {
        return false;
    };
    if x < 0.0 {
        out.push(b'-');
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let mut buffer = itoa::Buffer::new();
    // At least seven digits before the point: `m` is at least 10^6 * 10^k.
    let digits = buffer.format(m as u64).as_bytes();
    let (whole, fraction) = digits.split_at(digits.len() - k);
    out.extend_from_slice(whole);
    if k > 0 {
        out.push(b'.');
        out.extend_from_slice(fraction);
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

/// Appends the digits of `n`.
pub(super) fn push_u64(out: &mut Vec<u8>, n: u64) {
    if n >= INTEGER_LIMIT {
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        return;
    }
    let (start, text) = room::<INTEGER_ROOM>(out);
    let len = write_integer(text, n);
    out.truncate(start + len);
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

    #[test]
    fn eight_digits_are_the_decimal_digits() {
        let text = |n: u64| (eight_digits(n) | ASCII_ZEROS).to_le_bytes();
        for n in (0..100_000)
            .chain((0..100_000_000).step_by(9_973))
            .chain([99_999_999])
        {
            assert_eq!(text(n), *format!("{n:08}").as_bytes(), "{n}");
            let digits = eight_digits(n);
            let shown = n.to_string();
            if n != 0 {
                assert_eq!(leading_zero_digits(digits), 8 - shown.len(), "{n}");
                let trailing = shown.len() - shown.trim_end_matches('0').len();
                assert_eq!(trailing_zero_digits(digits), trailing, "{n}");
            }
        }
        assert_eq!(leading_zero_digits(eight_digits(0)), 8);
        assert_eq!(trailing_zero_digits(eight_digits(0)), 8);
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

        /// The values the fast path's exact check decides on: a decimal with nine fraction
        /// digits, and the `f64`s on either side of the one it parses to (each of which the
        /// decimal may or may not parse back to).
        #[test]
        fn neighbours_of_short_decimals_print_as_display_does(
            nanos in 0u64..1_000_000_000_000_000,
            negative in any::<bool>(),
        ) {
            let x = nanos as f64 / 1e9;
            for y in [x, x.next_up(), x.next_down()] {
                let y = if negative { -y } else { y };
                prop_assert_eq!(text(y), y.to_string());
            }
        }

        /// Quotes as markets write them: up to six digits before the point and nine after
        /// it, the fast path's whole range.
        #[test]
        fn quotes_print_as_display_does(
            whole in prop_oneof![0u64..10_000, 0u64..1_000_000],
            digits in 0usize..=9,
            fraction in any::<u64>(),
            negative in any::<bool>(),
        ) {
            let fraction = fraction % 10u64.pow(digits as u32);
            let sign = if negative { "-" } else { "" };
            let x: f64 = format!("{sign}{whole}.{fraction:0>digits$}e0").parse().unwrap();
            prop_assert_eq!(text(x), x.to_string());
        }

        #[test]
        fn powers_of_two_and_their_neighbours_print_as_display_does(
            power in -40i32..24,
            offset in -3i64..=3,
        ) {
            let x = 2f64.powi(power);
            let nanos = (x * 1e9).round() as i64 + offset;
            let near = nanos.max(0) as f64 / 1e9;
            for y in [x, x.next_up(), x.next_down(), near, near.next_up(), near.next_down()] {
                prop_assert_eq!(text(y), y.to_string());
            }
        }

        #[test]
        fn integers_print_as_display_does(n in any::<u64>(), digits in 0u32..20) {
            for n in [n, n % 10u64.pow(digits)] {
                let mut out = b"x".to_vec();
                push_u64(&mut out, n);
                prop_assert_eq!(String::from_utf8(out).unwrap(), format!("x{n}"));
            }
        }
    }
}
