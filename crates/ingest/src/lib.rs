//! Wire-format decoders: turn request bodies of the protocols Seer speaks into
//! [`seer_model`] batches. One module per protocol: [`remote_write`] (Prometheus remote write
//! 1.0), [`otlp_metrics`] (OTLP metrics translated to Prometheus series), [`otlp_json`] (the
//! OTLP JSON encoding of every signal), [`exposition`] (Prometheus text and OpenMetrics).
//!
//! Owns: protobuf message types ([`proto`]), decompression with size limits, translation
//! rules, and the wording of decode errors.
//! Must not: open sockets, know routes or status codes, or pull in tonic or tokio.
//!
//! Key decision: message types are hand-written `prost` derives instead of generated code,
//! so the build needs no `protoc` and the fields Seer relies on are visible in one place.

pub mod exposition;
pub mod loki_push;
pub mod otlp_json;
pub mod otlp_logs;
pub mod otlp_metrics;
pub mod otlp_traces;
pub mod proto;
pub mod remote_write;

use std::io::Read;

/// A request body could not be decoded.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum DecodeError {
    /// Not a snappy block.
    #[error("snappy: {0}")]
    Snappy(String),
    /// Not a gzip stream.
    #[error("gzip: {0}")]
    Gzip(String),
    /// The body is larger than allowed (compressed or decompressed).
    #[error("request body of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Bytes seen (at least).
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not a valid protobuf message of the expected type.
    #[error("protobuf: {0}")]
    Protobuf(String),
    /// Invalid JSON or JSON of the wrong shape.
    #[error("{0}")]
    Json(String),
    /// The content type or encoding is not supported.
    #[error("{0}")]
    Unsupported(String),
}

/// Decompresses a snappy block (the remote-write framing), refusing outputs above `limit`.
pub fn snappy_decompress(body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let len = snap::raw::decompress_len(body).map_err(|e| DecodeError::Snappy(e.to_string()))?;
    if len > limit {
        return Err(DecodeError::TooLarge { size: len, limit });
    }
    snap::raw::Decoder::new().decompress_vec(body).map_err(|e| DecodeError::Snappy(e.to_string()))
}

/// Decompresses a gzip stream, refusing outputs above `limit`.
pub fn gzip_decompress(body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    let mut d = flate2::read::MultiGzDecoder::new(body).take(limit as u64 + 1);
    d.read_to_end(&mut out).map_err(|e| DecodeError::Gzip(e.to_string()))?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge { size: out.len(), limit });
    }
    Ok(out)
}

/// One kind of refused input in a decoded batch, with how many samples it covered.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// What was wrong.
    pub message: String,
    /// Samples (or data points) affected.
    pub count: u64,
}

/// Adds `count` to the entry for `message`, creating it if needed.
pub(crate) fn reject(list: &mut Vec<Rejected>, message: String, count: u64) {
    match list.iter_mut().find(|r| r.message == message) {
        Some(r) => r.count += count,
        None => list.push(Rejected { message, count }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decompression_limits() {
        let data = vec![7u8; 10_000];
        let s = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(snappy_decompress(&s, 10_000).unwrap(), data);
        assert_eq!(snappy_decompress(&s, 9_999), Err(DecodeError::TooLarge { size: 10_000, limit: 9_999 }));
        assert!(snappy_decompress(b"hello world", 100).is_err());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &data).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(gzip_decompress(&gz, 10_000).unwrap(), data);
        assert!(matches!(gzip_decompress(&gz, 100), Err(DecodeError::TooLarge { .. })));
        assert!(gzip_decompress(b"nope", 100).is_err());
    }
}
