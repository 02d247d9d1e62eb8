//! Protobuf message types, written with `prost` derives (no code generation step, no
//! `protoc`). Field numbers follow the upstream `.proto` files cited in each module.

pub mod logproto;
pub mod otlp;
pub mod prompb;
