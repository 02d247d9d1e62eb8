//! Minimal logfmt logging to stderr (`ts=... level=info msg="..."`).

use std::io::Write;

fn ts() -> String {
    let ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    seer_api::timeparam::format_rfc3339(ms)
}

/// Writes one log line.
pub fn log(level: &str, msg: &str, fields: &[(&str, &dyn std::fmt::Display)]) {
    let mut line = format!("ts={} level={level} msg={:?}", ts(), msg);
    for (k, v) in fields {
        let v = v.to_string();
        if v.contains([' ', '"', '=']) || v.is_empty() {
            line.push_str(&format!(" {k}={v:?}"));
        } else {
            line.push_str(&format!(" {k}={v}"));
        }
    }
    line.push('\n');
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Info level.
pub fn info(msg: &str, fields: &[(&str, &dyn std::fmt::Display)]) {
    log("info", msg, fields)
}

/// Warning level.
pub fn warn(msg: &str, fields: &[(&str, &dyn std::fmt::Display)]) {
    log("warn", msg, fields)
}

/// Error level.
pub fn error(msg: &str, fields: &[(&str, &dyn std::fmt::Display)]) {
    log("error", msg, fields)
}
