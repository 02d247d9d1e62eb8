//! OpenTelemetry protocol messages (opentelemetry-proto v1.x: `common/v1`, `resource/v1`,
//! `metrics/v1`, `logs/v1`, `trace/v1`, `collector/*/v1`). Development-status fields that
//! Seer does not use (profiles string indexes, entity refs) are left out; prost skips them.

/// `opentelemetry.proto.common.v1`.
pub mod common {
    /// `AnyValue`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AnyValue {
        /// The value.
        #[prost(oneof = "any_value::Value", tags = "1, 2, 3, 4, 5, 6, 7")]
        pub value: Option<any_value::Value>,
    }

    /// The oneof of [`AnyValue`].
    pub mod any_value {
        /// One of the value kinds.
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum Value {
            /// string_value
            #[prost(string, tag = "1")]
            StringValue(String),
            /// bool_value
            #[prost(bool, tag = "2")]
            BoolValue(bool),
            /// int_value
            #[prost(int64, tag = "3")]
            IntValue(i64),
            /// double_value
            #[prost(double, tag = "4")]
            DoubleValue(f64),
            /// array_value
            #[prost(message, tag = "5")]
            ArrayValue(super::ArrayValue),
            /// kvlist_value
            #[prost(message, tag = "6")]
            KvlistValue(super::KeyValueList),
            /// bytes_value
            #[prost(bytes = "vec", tag = "7")]
            BytesValue(Vec<u8>),
        }
    }

    /// `ArrayValue`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ArrayValue {
        /// Elements.
        #[prost(message, repeated, tag = "1")]
        pub values: Vec<AnyValue>,
    }

    /// `KeyValueList`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct KeyValueList {
        /// Entries.
        #[prost(message, repeated, tag = "1")]
        pub values: Vec<KeyValue>,
    }

    /// `KeyValue`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct KeyValue {
        /// Key.
        #[prost(string, tag = "1")]
        pub key: String,
        /// Value.
        #[prost(message, optional, tag = "2")]
        pub value: Option<AnyValue>,
    }

    /// `InstrumentationScope`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct InstrumentationScope {
        /// Scope name.
        #[prost(string, tag = "1")]
        pub name: String,
        /// Scope version.
        #[prost(string, tag = "2")]
        pub version: String,
        /// Scope attributes.
        #[prost(message, repeated, tag = "3")]
        pub attributes: Vec<KeyValue>,
        /// Dropped attribute count.
        #[prost(uint32, tag = "4")]
        pub dropped_attributes_count: u32,
    }
}

/// `opentelemetry.proto.resource.v1`.
pub mod resource {
    /// `Resource`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Resource {
        /// Attributes.
        #[prost(message, repeated, tag = "1")]
        pub attributes: Vec<super::common::KeyValue>,
        /// Dropped attribute count.
        #[prost(uint32, tag = "2")]
        pub dropped_attributes_count: u32,
    }
}

/// `opentelemetry.proto.metrics.v1` and the metrics collector messages.
pub mod metrics {
    use super::common::{InstrumentationScope, KeyValue};
    use super::resource::Resource;

    /// `ExportMetricsServiceRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportMetricsServiceRequest {
        /// Per-resource metrics.
        #[prost(message, repeated, tag = "1")]
        pub resource_metrics: Vec<ResourceMetrics>,
    }

    /// `ExportMetricsServiceResponse`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportMetricsServiceResponse {
        /// Set only when some data points were rejected.
        #[prost(message, optional, tag = "1")]
        pub partial_success: Option<ExportMetricsPartialSuccess>,
    }

    /// `ExportMetricsPartialSuccess`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportMetricsPartialSuccess {
        /// Rejected data points.
        #[prost(int64, tag = "1")]
        pub rejected_data_points: i64,
        /// Why.
        #[prost(string, tag = "2")]
        pub error_message: String,
    }

    /// `ResourceMetrics`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResourceMetrics {
        /// Resource.
        #[prost(message, optional, tag = "1")]
        pub resource: Option<Resource>,
        /// Per-scope metrics.
        #[prost(message, repeated, tag = "2")]
        pub scope_metrics: Vec<ScopeMetrics>,
        /// Schema URL.
        #[prost(string, tag = "3")]
        pub schema_url: String,
    }

    /// `ScopeMetrics`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ScopeMetrics {
        /// Scope.
        #[prost(message, optional, tag = "1")]
        pub scope: Option<InstrumentationScope>,
        /// Metrics.
        #[prost(message, repeated, tag = "2")]
        pub metrics: Vec<Metric>,
        /// Schema URL.
        #[prost(string, tag = "3")]
        pub schema_url: String,
    }

    /// `Metric`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Metric {
        /// Name.
        #[prost(string, tag = "1")]
        pub name: String,
        /// Description.
        #[prost(string, tag = "2")]
        pub description: String,
        /// Unit (UCUM).
        #[prost(string, tag = "3")]
        pub unit: String,
        /// Data.
        #[prost(oneof = "metric::Data", tags = "5, 7, 9, 10, 11")]
        pub data: Option<metric::Data>,
        /// Metadata.
        #[prost(message, repeated, tag = "12")]
        pub metadata: Vec<KeyValue>,
    }

    /// The oneof of [`Metric`].
    pub mod metric {
        /// Metric data by kind.
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum Data {
            /// gauge
            #[prost(message, tag = "5")]
            Gauge(super::Gauge),
            /// sum
            #[prost(message, tag = "7")]
            Sum(super::Sum),
            /// histogram
            #[prost(message, tag = "9")]
            Histogram(super::Histogram),
            /// exponential_histogram
            #[prost(message, tag = "10")]
            ExponentialHistogram(super::ExponentialHistogram),
            /// summary
            #[prost(message, tag = "11")]
            Summary(super::Summary),
        }
    }

    /// `AggregationTemporality`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum AggregationTemporality {
        /// UNSPECIFIED
        Unspecified = 0,
        /// DELTA
        Delta = 1,
        /// CUMULATIVE
        Cumulative = 2,
    }

    /// `Gauge`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Gauge {
        /// Points.
        #[prost(message, repeated, tag = "1")]
        pub data_points: Vec<NumberDataPoint>,
    }

    /// `Sum`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sum {
        /// Points.
        #[prost(message, repeated, tag = "1")]
        pub data_points: Vec<NumberDataPoint>,
        /// Temporality.
        #[prost(enumeration = "AggregationTemporality", tag = "2")]
        pub aggregation_temporality: i32,
        /// Monotonic.
        #[prost(bool, tag = "3")]
        pub is_monotonic: bool,
    }

    /// `Histogram`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Histogram {
        /// Points.
        #[prost(message, repeated, tag = "1")]
        pub data_points: Vec<HistogramDataPoint>,
        /// Temporality.
        #[prost(enumeration = "AggregationTemporality", tag = "2")]
        pub aggregation_temporality: i32,
    }

    /// `ExponentialHistogram`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExponentialHistogram {
        /// Points.
        #[prost(message, repeated, tag = "1")]
        pub data_points: Vec<ExponentialHistogramDataPoint>,
        /// Temporality.
        #[prost(enumeration = "AggregationTemporality", tag = "2")]
        pub aggregation_temporality: i32,
    }

    /// `Summary`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Summary {
        /// Points.
        #[prost(message, repeated, tag = "1")]
        pub data_points: Vec<SummaryDataPoint>,
    }

    /// `NumberDataPoint`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NumberDataPoint {
        /// Attributes.
        #[prost(message, repeated, tag = "7")]
        pub attributes: Vec<KeyValue>,
        /// Start time, ns.
        #[prost(fixed64, tag = "2")]
        pub start_time_unix_nano: u64,
        /// Time, ns.
        #[prost(fixed64, tag = "3")]
        pub time_unix_nano: u64,
        /// Value.
        #[prost(oneof = "number_data_point::Value", tags = "4, 6")]
        pub value: Option<number_data_point::Value>,
        /// Exemplars.
        #[prost(message, repeated, tag = "5")]
        pub exemplars: Vec<Exemplar>,
        /// Flags.
        #[prost(uint32, tag = "8")]
        pub flags: u32,
    }

    /// The oneof of [`NumberDataPoint`].
    pub mod number_data_point {
        /// A double or an integer.
        #[derive(Clone, Copy, PartialEq, prost::Oneof)]
        pub enum Value {
            /// as_double
            #[prost(double, tag = "4")]
            AsDouble(f64),
            /// as_int
            #[prost(sfixed64, tag = "6")]
            AsInt(i64),
        }
    }

    /// `HistogramDataPoint`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HistogramDataPoint {
        /// Attributes.
        #[prost(message, repeated, tag = "9")]
        pub attributes: Vec<KeyValue>,
        /// Start time, ns.
        #[prost(fixed64, tag = "2")]
        pub start_time_unix_nano: u64,
        /// Time, ns.
        #[prost(fixed64, tag = "3")]
        pub time_unix_nano: u64,
        /// Count.
        #[prost(fixed64, tag = "4")]
        pub count: u64,
        /// Sum, if recorded.
        #[prost(double, optional, tag = "5")]
        pub sum: Option<f64>,
        /// Per-bucket counts.
        #[prost(fixed64, repeated, tag = "6")]
        pub bucket_counts: Vec<u64>,
        /// Upper bounds.
        #[prost(double, repeated, tag = "7")]
        pub explicit_bounds: Vec<f64>,
        /// Exemplars.
        #[prost(message, repeated, tag = "8")]
        pub exemplars: Vec<Exemplar>,
        /// Flags.
        #[prost(uint32, tag = "10")]
        pub flags: u32,
        /// Min.
        #[prost(double, optional, tag = "11")]
        pub min: Option<f64>,
        /// Max.
        #[prost(double, optional, tag = "12")]
        pub max: Option<f64>,
    }

    /// `ExponentialHistogramDataPoint`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExponentialHistogramDataPoint {
        /// Attributes.
        #[prost(message, repeated, tag = "1")]
        pub attributes: Vec<KeyValue>,
        /// Start time, ns.
        #[prost(fixed64, tag = "2")]
        pub start_time_unix_nano: u64,
        /// Time, ns.
        #[prost(fixed64, tag = "3")]
        pub time_unix_nano: u64,
        /// Count.
        #[prost(fixed64, tag = "4")]
        pub count: u64,
        /// Sum, if recorded.
        #[prost(double, optional, tag = "5")]
        pub sum: Option<f64>,
        /// Scale.
        #[prost(sint32, tag = "6")]
        pub scale: i32,
        /// Zero bucket count.
        #[prost(fixed64, tag = "7")]
        pub zero_count: u64,
        /// Positive buckets.
        #[prost(message, optional, tag = "8")]
        pub positive: Option<Buckets>,
        /// Negative buckets.
        #[prost(message, optional, tag = "9")]
        pub negative: Option<Buckets>,
        /// Flags.
        #[prost(uint32, tag = "10")]
        pub flags: u32,
        /// Exemplars.
        #[prost(message, repeated, tag = "11")]
        pub exemplars: Vec<Exemplar>,
        /// Min.
        #[prost(double, optional, tag = "12")]
        pub min: Option<f64>,
        /// Max.
        #[prost(double, optional, tag = "13")]
        pub max: Option<f64>,
        /// Zero threshold.
        #[prost(double, tag = "14")]
        pub zero_threshold: f64,
    }

    /// `ExponentialHistogramDataPoint.Buckets`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Buckets {
        /// Index of the first bucket.
        #[prost(sint32, tag = "1")]
        pub offset: i32,
        /// Counts.
        #[prost(uint64, repeated, tag = "2")]
        pub bucket_counts: Vec<u64>,
    }

    /// `SummaryDataPoint`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SummaryDataPoint {
        /// Attributes.
        #[prost(message, repeated, tag = "7")]
        pub attributes: Vec<KeyValue>,
        /// Start time, ns.
        #[prost(fixed64, tag = "2")]
        pub start_time_unix_nano: u64,
        /// Time, ns.
        #[prost(fixed64, tag = "3")]
        pub time_unix_nano: u64,
        /// Count.
        #[prost(fixed64, tag = "4")]
        pub count: u64,
        /// Sum.
        #[prost(double, tag = "5")]
        pub sum: f64,
        /// Quantiles.
        #[prost(message, repeated, tag = "6")]
        pub quantile_values: Vec<ValueAtQuantile>,
        /// Flags.
        #[prost(uint32, tag = "8")]
        pub flags: u32,
    }

    /// `SummaryDataPoint.ValueAtQuantile`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueAtQuantile {
        /// Quantile.
        #[prost(double, tag = "1")]
        pub quantile: f64,
        /// Value.
        #[prost(double, tag = "2")]
        pub value: f64,
    }

    /// `Exemplar`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Exemplar {
        /// Attributes not on the data point.
        #[prost(message, repeated, tag = "7")]
        pub filtered_attributes: Vec<KeyValue>,
        /// Time, ns.
        #[prost(fixed64, tag = "2")]
        pub time_unix_nano: u64,
        /// Value.
        #[prost(oneof = "exemplar::Value", tags = "3, 6")]
        pub value: Option<exemplar::Value>,
        /// Span id (8 bytes).
        #[prost(bytes = "vec", tag = "4")]
        pub span_id: Vec<u8>,
        /// Trace id (16 bytes).
        #[prost(bytes = "vec", tag = "5")]
        pub trace_id: Vec<u8>,
    }

    /// The oneof of [`Exemplar`].
    pub mod exemplar {
        /// A double or an integer.
        #[derive(Clone, Copy, PartialEq, prost::Oneof)]
        pub enum Value {
            /// as_double
            #[prost(double, tag = "3")]
            AsDouble(f64),
            /// as_int
            #[prost(sfixed64, tag = "6")]
            AsInt(i64),
        }
    }
}

/// `opentelemetry.proto.logs.v1` and the logs collector messages.
pub mod logs {
    use super::common::{AnyValue, InstrumentationScope, KeyValue};
    use super::resource::Resource;

    /// `ExportLogsServiceRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportLogsServiceRequest {
        /// Per-resource logs.
        #[prost(message, repeated, tag = "1")]
        pub resource_logs: Vec<ResourceLogs>,
    }

    /// `ExportLogsServiceResponse`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportLogsServiceResponse {
        /// Set only when some records were rejected.
        #[prost(message, optional, tag = "1")]
        pub partial_success: Option<ExportLogsPartialSuccess>,
    }

    /// `ExportLogsPartialSuccess`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportLogsPartialSuccess {
        /// Rejected records.
        #[prost(int64, tag = "1")]
        pub rejected_log_records: i64,
        /// Why.
        #[prost(string, tag = "2")]
        pub error_message: String,
    }

    /// `ResourceLogs`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResourceLogs {
        /// Resource.
        #[prost(message, optional, tag = "1")]
        pub resource: Option<Resource>,
        /// Per-scope logs.
        #[prost(message, repeated, tag = "2")]
        pub scope_logs: Vec<ScopeLogs>,
        /// Schema URL.
        #[prost(string, tag = "3")]
        pub schema_url: String,
    }

    /// `ScopeLogs`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ScopeLogs {
        /// Scope.
        #[prost(message, optional, tag = "1")]
        pub scope: Option<InstrumentationScope>,
        /// Records.
        #[prost(message, repeated, tag = "2")]
        pub log_records: Vec<LogRecord>,
        /// Schema URL.
        #[prost(string, tag = "3")]
        pub schema_url: String,
    }

    /// `LogRecord`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LogRecord {
        /// Event time, ns.
        #[prost(fixed64, tag = "1")]
        pub time_unix_nano: u64,
        /// Observation time, ns.
        #[prost(fixed64, tag = "11")]
        pub observed_time_unix_nano: u64,
        /// Severity number.
        #[prost(int32, tag = "2")]
        pub severity_number: i32,
        /// Severity text.
        #[prost(string, tag = "3")]
        pub severity_text: String,
        /// Body.
        #[prost(message, optional, tag = "5")]
        pub body: Option<AnyValue>,
        /// Attributes.
        #[prost(message, repeated, tag = "6")]
        pub attributes: Vec<KeyValue>,
        /// Dropped attribute count.
        #[prost(uint32, tag = "7")]
        pub dropped_attributes_count: u32,
        /// Flags.
        #[prost(fixed32, tag = "8")]
        pub flags: u32,
        /// Trace id (16 bytes).
        #[prost(bytes = "vec", tag = "9")]
        pub trace_id: Vec<u8>,
        /// Span id (8 bytes).
        #[prost(bytes = "vec", tag = "10")]
        pub span_id: Vec<u8>,
        /// Event name.
        #[prost(string, tag = "12")]
        pub event_name: String,
    }
}

/// `opentelemetry.proto.trace.v1` and the trace collector messages.
pub mod trace {
    use super::common::{InstrumentationScope, KeyValue};
    use super::resource::Resource;

    /// `ExportTraceServiceRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportTraceServiceRequest {
        /// Per-resource spans.
        #[prost(message, repeated, tag = "1")]
        pub resource_spans: Vec<ResourceSpans>,
    }

    /// `ExportTraceServiceResponse`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportTraceServiceResponse {
        /// Set only when some spans were rejected.
        #[prost(message, optional, tag = "1")]
        pub partial_success: Option<ExportTracePartialSuccess>,
    }

    /// `ExportTracePartialSuccess`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportTracePartialSuccess {
        /// Rejected spans.
        #[prost(int64, tag = "1")]
        pub rejected_spans: i64,
        /// Why.
        #[prost(string, tag = "2")]
        pub error_message: String,
    }

    /// `ResourceSpans`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResourceSpans {
        /// Resource.
        #[prost(message, optional, tag = "1")]
        pub resource: Option<Resource>,
        /// Per-scope spans.
        #[prost(message, repeated, tag = "2")]
        pub scope_spans: Vec<ScopeSpans>,
        /// Schema URL.
        #[prost(string, tag = "3")]
        pub schema_url: String,
    }

    /// `ScopeSpans`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ScopeSpans {
        /// Scope.
        #[prost(message, optional, tag = "1")]
        pub scope: Option<InstrumentationScope>,
        /// Spans.
        #[prost(message, repeated, tag = "2")]
        pub spans: Vec<Span>,
        /// Schema URL.
        #[prost(string, tag = "3")]
        pub schema_url: String,
    }

    /// `Span`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Span {
        /// Trace id (16 bytes).
        #[prost(bytes = "vec", tag = "1")]
        pub trace_id: Vec<u8>,
        /// Span id (8 bytes).
        #[prost(bytes = "vec", tag = "2")]
        pub span_id: Vec<u8>,
        /// W3C trace state.
        #[prost(string, tag = "3")]
        pub trace_state: String,
        /// Parent span id.
        #[prost(bytes = "vec", tag = "4")]
        pub parent_span_id: Vec<u8>,
        /// Flags.
        #[prost(fixed32, tag = "16")]
        pub flags: u32,
        /// Name.
        #[prost(string, tag = "5")]
        pub name: String,
        /// Kind.
        #[prost(int32, tag = "6")]
        pub kind: i32,
        /// Start, ns.
        #[prost(fixed64, tag = "7")]
        pub start_time_unix_nano: u64,
        /// End, ns.
        #[prost(fixed64, tag = "8")]
        pub end_time_unix_nano: u64,
        /// Attributes.
        #[prost(message, repeated, tag = "9")]
        pub attributes: Vec<KeyValue>,
        /// Dropped attribute count.
        #[prost(uint32, tag = "10")]
        pub dropped_attributes_count: u32,
        /// Events.
        #[prost(message, repeated, tag = "11")]
        pub events: Vec<span::Event>,
        /// Dropped event count.
        #[prost(uint32, tag = "12")]
        pub dropped_events_count: u32,
        /// Links.
        #[prost(message, repeated, tag = "13")]
        pub links: Vec<span::Link>,
        /// Dropped link count.
        #[prost(uint32, tag = "14")]
        pub dropped_links_count: u32,
        /// Status.
        #[prost(message, optional, tag = "15")]
        pub status: Option<Status>,
    }

    /// Nested messages of [`Span`].
    pub mod span {
        use super::KeyValue;

        /// `Span.Event`.
        #[derive(Clone, PartialEq, prost::Message)]
        pub struct Event {
            /// Time, ns.
            #[prost(fixed64, tag = "1")]
            pub time_unix_nano: u64,
            /// Name.
            #[prost(string, tag = "2")]
            pub name: String,
            /// Attributes.
            #[prost(message, repeated, tag = "3")]
            pub attributes: Vec<KeyValue>,
            /// Dropped attribute count.
            #[prost(uint32, tag = "4")]
            pub dropped_attributes_count: u32,
        }

        /// `Span.Link`.
        #[derive(Clone, PartialEq, prost::Message)]
        pub struct Link {
            /// Trace id.
            #[prost(bytes = "vec", tag = "1")]
            pub trace_id: Vec<u8>,
            /// Span id.
            #[prost(bytes = "vec", tag = "2")]
            pub span_id: Vec<u8>,
            /// Trace state.
            #[prost(string, tag = "3")]
            pub trace_state: String,
            /// Attributes.
            #[prost(message, repeated, tag = "4")]
            pub attributes: Vec<KeyValue>,
            /// Dropped attribute count.
            #[prost(uint32, tag = "5")]
            pub dropped_attributes_count: u32,
            /// Flags.
            #[prost(fixed32, tag = "6")]
            pub flags: u32,
        }
    }

    /// `Status`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Status {
        /// Message.
        #[prost(string, tag = "2")]
        pub message: String,
        /// Code: 0 unset, 1 ok, 2 error.
        #[prost(int32, tag = "3")]
        pub code: i32,
    }
}
