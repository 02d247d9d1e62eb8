//! Test helpers: span construction, a deterministic random generator and a tiny
//! self-describing deserializer standing in for YAML (the crate has no YAML dependency).

use seer_model::trace::{Attr, AttrValue, Resource, Scope, Span, SpanKind, StatusCode, TraceId};
use std::sync::Arc;

/// splitmix64: a small deterministic generator, good enough for random trace ids.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn trace_id(&mut self) -> TraceId {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.next_u64().to_be_bytes());
        id[8..].copy_from_slice(&self.next_u64().to_be_bytes());
        id
    }
}

pub fn resource(service: &str) -> Arc<Resource> {
    Arc::new(Resource {
        attrs: vec![Attr::new("service.name", AttrValue::Str(service.to_string()))],
        ..Resource::default()
    })
}

/// A span of `service` lasting `start_ns..end_ns`.
pub fn span(trace_id: TraceId, span_id: u64, parent: u64, service: &str, start_ns: u64, end_ns: u64) -> Span {
    Span {
        trace_id,
        span_id: span_id.to_be_bytes(),
        parent_span_id: parent.to_be_bytes(),
        trace_state: String::new(),
        flags: 0,
        name: "op".to_string(),
        kind: SpanKind::Internal,
        start_ns,
        end_ns,
        attrs: Vec::new(),
        dropped_attrs: 0,
        events: Vec::new(),
        dropped_events: 0,
        links: Vec::new(),
        dropped_links: 0,
        status: StatusCode::Unset,
        status_message: String::new(),
        resource: resource(service),
        scope: Arc::new(Scope::default()),
    }
}

/// A trace id whose every byte is `b`.
pub fn tid(b: u8) -> TraceId {
    [b; 16]
}

/// A value tree that deserializes like the YAML it stands for.
#[derive(Clone, Debug)]
pub enum V {
    S(&'static str),
    F(f64),
    U(u64),
    B(bool),
    L(Vec<V>),
    M(Vec<(&'static str, V)>),
}

/// Deserializes `T` from `v`.
pub fn from_v<T: serde::de::DeserializeOwned>(v: V) -> Result<T, serde::de::value::Error> {
    T::deserialize(v)
}

impl<'de> serde::Deserializer<'de> for V {
    type Error = serde::de::value::Error;

    fn deserialize_any<Vi: serde::de::Visitor<'de>>(self, vi: Vi) -> Result<Vi::Value, Self::Error> {
        match self {
            V::S(s) => vi.visit_str(s),
            V::F(f) => vi.visit_f64(f),
            V::U(u) => vi.visit_u64(u),
            V::B(b) => vi.visit_bool(b),
            V::L(l) => vi.visit_seq(serde::de::value::SeqDeserializer::new(l.into_iter())),
            V::M(m) => vi.visit_map(serde::de::value::MapDeserializer::new(m.into_iter())),
        }
    }

    fn deserialize_option<Vi: serde::de::Visitor<'de>>(self, vi: Vi) -> Result<Vi::Value, Self::Error> {
        vi.visit_some(self)
    }

    fn deserialize_enum<Vi: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        vi: Vi,
    ) -> Result<Vi::Value, Self::Error> {
        match self {
            V::S(s) => vi.visit_enum(serde::de::IntoDeserializer::<Self::Error>::into_deserializer(s)),
            other => other.deserialize_any(vi),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

impl<'de> serde::de::IntoDeserializer<'de, serde::de::value::Error> for V {
    type Deserializer = V;
    fn into_deserializer(self) -> V {
        self
    }
}
