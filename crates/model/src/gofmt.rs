//! Go's float formatting, which Prometheus' outputs (label values, API strings, error texts)
//! are made of.

/// Go's `strconv.FormatFloat(v, 'g', -1, 64)`: shortest digits, `%e` form when the decimal
/// exponent is below -4 or at least 6 (Go uses precision 6 for that decision when the
/// precision is "shortest").
pub fn go_format_g(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let e = format!("{v:e}"); // shortest round-trip digits, e.g. "-1.2345e-7"
    let (mant, exp) = e.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("numeric exponent");
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    format!("{v}")
}

/// Prometheus' `FormatOpenMetricsFloat`: [`go_format_g`] with `.0` appended to integers.
pub fn format_openmetrics_float(v: f64) -> String {
    let s = go_format_g(v);
    if s.contains(['.', 'e']) || s.contains("Inf") || s == "NaN" { s } else { format!("{s}.0") }
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest digits, never an exponent.
pub fn go_format_f(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    format!("{v}")
}

/// Go's `%f`: six decimals.
pub fn go_format_f6(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    format!("{v:.6}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_go() {
        assert_eq!(go_format_g(1e6), "1e+06");
        assert_eq!(go_format_g(123456.0), "123456");
        assert_eq!(go_format_g(0.0001), "0.0001");
        assert_eq!(go_format_g(0.00001), "1e-05");
        assert_eq!(go_format_g(-1.1), "-1.1");
        assert_eq!(go_format_f(1e21), "1000000000000000000000");
        assert_eq!(go_format_f(1e-7), "0.0000001");
        assert_eq!(go_format_f(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_openmetrics_float(1.0), "1.0");
        assert_eq!(go_format_f6(0.5), "0.500000");
    }
}
