//! Number spellings: those of other tools, reproduced exactly so that outputs compare byte for
//! byte ([`python_float`], [`c_g`]), and human ones for text a person reads — figures, tables,
//! summaries ([`sig`], [`fixed`], [`grouped`], [`si`], [`bytes`], [`bytes_binary`], [`rate`],
//! [`duration`]).
//!
//! The human spellings share three rules: a fixed number of significant digits (a simulated
//! figure is not known to nine), fixed notation only (`1600000`, never `1.6e+06`), and no
//! negative zero (a share of `-7e-15` reads `0`). Values with a unit get an SI prefix and a space
//! before the unit: `1.21 GB`, `620 GB/s`, `4.32 µs`.

/// Python's `repr(float)`: the shortest digits that round-trip, in fixed notation for decimal
/// exponents −4..16 (always with a fractional part: `256.0`), scientific otherwise (`1e-05`).
pub fn python_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `2.56e2`, `1e-5`.
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    if (-4..16).contains(&exp) {
        let s = format!("{x}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        format!(
            "{mantissa}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    }
}

/// C's `printf("%g")`: six significant digits, trailing zeros removed, scientific notation
/// when the decimal exponent is below −4 or at least 6.
pub fn c_g(x: f64) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // The exponent after rounding to six significant digits decides the style.
    let sci = format!("{x:.5e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    let strip = |s: &str| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s.to_owned()
        }
    };
    if (-4..6).contains(&exp) {
        let decimals = (5 - exp) as usize;
        strip(&format!("{x:.decimals$}"))
    } else {
        format!(
            "{}e{}{:02}",
            strip(mantissa),
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    }
}

/// `x` to `digits` significant digits in fixed notation, trailing zeros dropped: `sig(619.949, 4)`
/// is `619.9`, `sig(1.6e6, 3)` is `1600000`, `sig(-1e-9, 3)` is `0`.
pub fn sig(x: f64, digits: u32) -> String {
    if !x.is_finite() {
        return non_finite(x);
    }
    if x == 0.0 {
        return "0".into();
    }
    let digits = digits.max(1) as i32;
    // The exponent after rounding, so that 999.96 to four digits is 1000, not 999.96's 999.
    let rounded: f64 = format!("{:.*e}", (digits - 1) as usize, x)
        .parse()
        .unwrap_or(x);
    let exp = rounded.abs().log10().floor() as i32;
    let decimals = (digits - 1 - exp).max(0) as usize;
    trim_zeros(&format!("{rounded:.decimals$}"))
}

/// `x` with exactly `decimals` decimals, as `format!("{x:.N}")` but never `-0.0`.
pub fn fixed(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return non_finite(x);
    }
    let s = format!("{x:.decimals$}");
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_owned(),
        _ => s,
    }
}

/// A number with thousands separators: `32768` is `32,768`. Non-integers are rounded.
pub fn grouped(x: f64) -> String {
    if !x.is_finite() {
        return non_finite(x);
    }
    let n = x.round();
    let out = grouped_int(n.abs() as u128);
    if n < 0.0 { format!("-{out}") } else { out }
}

/// An integer with thousands separators, exactly: `18446744073709551615` is
/// `18,446,744,073,709,551,615` (counts in messages must not be rounded through a float).
pub fn grouped_int(n: impl Into<u128>) -> String {
    let digits = n.into().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Decimal SI prefixes from pico to exa; `µ` is the micro sign.
pub(crate) const SI: [(f64, &str); 11] = [
    (1e-12, "p"),
    (1e-9, "n"),
    (1e-6, "µ"),
    (1e-3, "m"),
    (1.0, ""),
    (1e3, "k"),
    (1e6, "M"),
    (1e9, "G"),
    (1e12, "T"),
    (1e15, "P"),
    (1e18, "E"),
];

/// Binary prefixes, for sizes counted in powers of two.
pub(crate) const IEC: [(f64, &str); 6] = [
    (1.0, ""),
    (1024.0, "Ki"),
    (1048576.0, "Mi"),
    (1073741824.0, "Gi"),
    (1099511627776.0, "Ti"),
    (1125899906842624.0, "Pi"),
];

/// `x` with the SI prefix that puts it in [1, 1000), to `digits` significant digits, a space and
/// `unit`: `si(1.207959552e9, "B", 3)` is `1.21 GB`.
pub fn si(x: f64, unit: &str, digits: u32) -> String {
    prefixed(x, unit, digits, &SI)
}

/// `x` with the binary prefix that puts it in [1, 1024), to `digits` significant digits:
/// `14.5 GiB`.
pub fn si_binary(x: f64, unit: &str, digits: u32) -> String {
    prefixed(x, unit, digits, &IEC)
}

fn prefixed(x: f64, unit: &str, digits: u32, table: &[(f64, &str)]) -> String {
    let sep = if unit.is_empty() { "" } else { " " };
    if !x.is_finite() || x == 0.0 {
        let n = if x == 0.0 { "0".into() } else { non_finite(x) };
        return format!("{n}{sep}{unit}");
    }
    let a = x.abs();
    let mut i = table
        .iter()
        .rposition(|(scale, _)| a >= *scale * (1.0 - 1e-12))
        .unwrap_or(0);
    loop {
        let (scale, prefix) = table[i];
        let text = sig(x / scale, digits);
        // 999.96 GB to three digits rounds to `1000`: one prefix up reads `1 TB`. Binary
        // prefixes step up at 1000 too, so that 1023.9 MiB reads `1 GiB`, not `1020 MiB`.
        if i + 1 < table.len()
            && text.trim_start_matches('-').parse::<f64>().unwrap_or(0.0) >= 1000.0
        {
            i += 1;
            continue;
        }
        return format!("{text}{sep}{prefix}{unit}");
    }
}

/// Bytes, decimal, three significant digits: `1.21 GB`.
pub fn bytes(x: f64) -> String {
    si(x, "B", 3)
}

/// Bytes, binary, three significant digits: `14.5 GiB`.
pub fn bytes_binary(x: f64) -> String {
    si_binary(x, "B", 3)
}

/// Bytes per second, decimal, three significant digits: `620 GB/s`.
pub fn rate(x: f64) -> String {
    si(x, "B/s", 3)
}

/// Seconds, three significant digits, down to picoseconds: `4.32 µs`, `121 ms`, `2.5 s`.
pub fn duration(x: f64) -> String {
    si(x, "s", 3)
}

fn trim_zeros(s: &str) -> String {
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    };
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0') => rest.to_owned(),
        _ => s.to_owned(),
    }
}

fn non_finite(x: f64) -> String {
    if x.is_nan() {
        "n/a".into()
    } else if x > 0.0 {
        "∞".into()
    } else {
        "-∞".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_digits_in_fixed_notation() {
        for (x, d, s) in [
            (619.949237894, 4, "619.9"),
            (619.949237894, 3, "620"),
            (1.6e6, 3, "1600000"),
            (1234567.0, 3, "1230000"),
            (0.000123456, 3, "0.000123"),
            (999.96, 4, "1000"),
            (0.25, 3, "0.25"),
            (-4.56789, 3, "-4.57"),
            (-1e-15, 3, "-0.000000000000001"),
            (-0.0, 3, "0"),
            (0.0, 3, "0"),
            (10.0, 6, "10"),
            (499.99999999999994, 6, "500"),
        ] {
            assert_eq!(sig(x, d), s, "{x} to {d}");
        }
        assert_eq!(sig(f64::NAN, 3), "n/a");
    }

    #[test]
    fn fixed_decimals_never_negative_zero() {
        assert_eq!(fixed(-7.5e-13, 1), "0.0");
        assert_eq!(fixed(-0.04, 1), "0.0");
        assert_eq!(fixed(-0.06, 1), "-0.1");
        assert_eq!(fixed(99.96, 1), "100.0");
        assert_eq!(fixed(-0.0, 2), "0.00");
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(grouped(32768.0), "32,768");
        assert_eq!(grouped(999.0), "999");
        assert_eq!(grouped(1_000_000.0), "1,000,000");
        assert_eq!(grouped(-2262.0), "-2,262");
        assert_eq!(grouped(0.0), "0");
    }

    #[test]
    fn prefixed_units() {
        assert_eq!(bytes(1.207959552e9), "1.21 GB");
        assert_eq!(rate(619.949237894e9), "620 GB/s");
        assert_eq!(si(619.949237894e9, "B/s", 4), "619.9 GB/s");
        assert_eq!(rate(1.6e12), "1.6 TB/s");
        assert_eq!(rate(999.96e9), "1 TB/s");
        assert_eq!(duration(4.32262647278e-6), "4.32 µs");
        assert_eq!(duration(0.1208), "121 ms");
        assert_eq!(duration(2.5), "2.5 s");
        assert_eq!(duration(0.0), "0 s");
        assert_eq!(bytes_binary(14.5 * 1073741824.0), "14.5 GiB");
        assert_eq!(bytes_binary(4096.0), "4 KiB");
        assert_eq!(bytes_binary(1023.9 * 1048576.0), "1 GiB");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(si(1200.0, "", 3), "1.2k");
        assert_eq!(si(-4e-6, "s", 3), "-4 µs");
    }

    #[test]
    fn python_repr_matches_cpython() {
        for (x, s) in [
            (256.0, "256.0"),
            (0.05, "0.05"),
            (1e-05, "1e-05"),
            (2.0, "2.0"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345.6, "123456789012345.6"),
            (1234567890123456.7, "1234567890123456.8"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-3.5, "-3.5"),
            (1.25e-7, "1.25e-07"),
            (1e100, "1e+100"),
        ] {
            assert_eq!(python_float(x), s, "{x}");
        }
    }

    #[test]
    fn percent_g_matches_c() {
        for (x, s) in [
            (500.0, "500"),
            (1000.0, "1000"),
            (2500.5, "2500.5"),
            (123456.0, "123456"),
            (1234567.0, "1.23457e+06"),
            (999999.5, "1e+06"),
            (0.5, "0.5"),
            (0.0001, "0.0001"),
            (0.00001234, "1.234e-05"),
            (1e6, "1e+06"),
            (12.3456789, "12.3457"),
            (-42.0, "-42"),
            (100000.0, "100000"),
        ] {
            assert_eq!(c_g(x), s, "{x}");
        }
    }
}
