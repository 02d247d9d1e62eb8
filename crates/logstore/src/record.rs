//! WAL records of the log store (layout in `FORMAT.md`): stream definitions and entries.

use seer_encoding::{ByteReader, DecodeError, put_uvarint, put_varint};
use seer_model::{Label, Labels};

const STREAMS: u8 = 1;
const ENTRIES: u8 = 2;

/// Entries of one stream in a record: time, line, structured metadata.
pub(crate) type StreamEntries = Vec<(i64, String, Vec<Label>)>;

/// A decoded WAL record.
#[derive(Debug, PartialEq)]
pub(crate) enum Record {
    /// New streams: WAL id and labels.
    Streams(Vec<(u64, Labels)>),
    /// Entries per stream id.
    Entries(Vec<(u64, StreamEntries)>),
}

fn put_str(dst: &mut Vec<u8>, s: &str) {
    put_uvarint(dst, s.len() as u64);
    dst.extend_from_slice(s.as_bytes());
}

/// Encodes stream definitions.
pub(crate) fn encode_streams<'a>(dst: &mut Vec<u8>, streams: impl ExactSizeIterator<Item = (u64, &'a Labels)>) {
    dst.push(STREAMS);
    put_uvarint(dst, streams.len() as u64);
    for (id, labels) in streams {
        put_uvarint(dst, id);
        put_uvarint(dst, labels.len() as u64);
        for l in labels.iter() {
            put_str(dst, &l.name);
            put_str(dst, &l.value);
        }
    }
}

/// Starts an entries record for `streams` streams; follow with [`encode_stream_entries`].
pub(crate) fn begin_entries(dst: &mut Vec<u8>, streams: usize) {
    dst.push(ENTRIES);
    put_uvarint(dst, streams as u64);
}

/// Appends one stream's entries to an entries record.
pub(crate) fn encode_stream_entries<'a>(
    dst: &mut Vec<u8>,
    id: u64,
    entries: impl ExactSizeIterator<Item = (i64, &'a str, &'a [Label])>,
) {
    put_uvarint(dst, id);
    put_uvarint(dst, entries.len() as u64);
    for (ts, line, meta) in entries {
        put_varint(dst, ts);
        put_str(dst, line);
        put_uvarint(dst, meta.len() as u64);
        for l in meta {
            put_str(dst, &l.name);
            put_str(dst, &l.value);
        }
    }
}

fn pairs(r: &mut ByteReader<'_>) -> Result<Vec<Label>, DecodeError> {
    let n = r.len_prefix(r.remaining())?;
    let mut out = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let name = r.str()?.to_string();
        let value = r.str()?.to_string();
        out.push(Label { name, value });
    }
    Ok(out)
}

/// Decodes a record.
pub(crate) fn decode(buf: &[u8]) -> Result<Record, DecodeError> {
    let mut r = ByteReader::new(buf);
    match r.u8()? {
        STREAMS => {
            let n = r.len_prefix(r.remaining())?;
            let mut out = Vec::with_capacity(n.min(4096));
            for _ in 0..n {
                let id = r.uvarint()?;
                let labels = Labels::from_pairs_checked(pairs(&mut r)?)
                    .map_err(|n| DecodeError::Invalid(format!("duplicate label {n} in stream record")))?;
                out.push((id, labels));
            }
            Ok(Record::Streams(out))
        }
        ENTRIES => {
            let n = r.len_prefix(r.remaining())?;
            let mut out = Vec::with_capacity(n.min(4096));
            for _ in 0..n {
                let id = r.uvarint()?;
                let k = r.len_prefix(r.remaining())?;
                let mut entries = Vec::with_capacity(k.min(65536));
                for _ in 0..k {
                    let ts = r.varint()?;
                    let line = r.str()?.to_string();
                    entries.push((ts, line, pairs(&mut r)?));
                }
                out.push((id, entries));
            }
            Ok(Record::Entries(out))
        }
        t => Err(DecodeError::Invalid(format!("unknown log WAL record type {t}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let labels = Labels::from_pairs([("app", "api")]);
        let mut buf = Vec::new();
        encode_streams(&mut buf, [(7u64, &labels)].into_iter());
        assert_eq!(decode(&buf).unwrap(), Record::Streams(vec![(7, labels)]));
        let meta = vec![Label::new("trace_id", "abc")];
        let mut buf = Vec::new();
        begin_entries(&mut buf, 1);
        encode_stream_entries(&mut buf, 7, [(5i64, "line", meta.as_slice()), (-1, "", &[][..])].into_iter());
        assert_eq!(
            decode(&buf).unwrap(),
            Record::Entries(vec![(7, vec![(5, "line".into(), meta), (-1, String::new(), vec![])])])
        );
        for cut in 0..buf.len() {
            assert!(decode(&buf[..cut]).is_err());
        }
        assert!(decode(&[9]).is_err());
    }
}
