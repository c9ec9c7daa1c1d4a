//! Number spellings of other tools, reproduced exactly so that outputs compare byte for byte.

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

/// `1234567` → `"1,234,567"`: counts as the presets and error messages write them.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
