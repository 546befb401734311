//! The column types of PostgreSQL results, checked once per result so that the rows can be
//! decoded without checking every value, and the decoding of event rows.

use std::fmt;

use evtstore::{Error, RecordedEvent};
use sqlx::postgres::{PgRow, PgTypeInfo};
use sqlx::{Postgres, Type, TypeInfo};

use crate::common::{Decoding, Known, RowRef, check_columns, decode_event_of, read_event_row};

/// Checks the column types of an event query's result once, so that its rows can be read
/// without checking every value ([`Decoding::PgChecked`]): PostgreSQL describes the columns
/// once per result. Position and version are `bigint`, the commit key an 8-byte `xid8` or
/// `bigint`, the timestamp a `timestamptz` (or `timestamp`), the rest text.
pub(super) fn check_event_columns(row: &PgRow, operation: &dyn fmt::Display) -> Result<(), Error> {
    check_columns(
        row,
        operation,
        &[
            ("position", "bigint", is_int8),
            ("commit key", "xid8 or bigint", |ty| {
                is_int8(ty) || ty.name().eq_ignore_ascii_case("xid8")
            }),
            ("stream", "text", is_text),
            ("aggregate_id", "text", is_text),
            ("version", "bigint", is_int8),
            ("timestamp", "timestamptz", |ty| {
                matches!(ty.name(), "TIMESTAMPTZ" | "TIMESTAMP")
            }),
            ("event", "text", is_text),
            ("metadata", "text", is_text),
        ],
    )
}

/// The column types of a `replay_events.sql` result: version and position `bigint`, the event
/// text (see [`ReplayColumns`]).
///
/// [`ReplayColumns`]: crate::common::ReplayColumns
const REPLAY_COLUMNS: [ColumnType; 3] = [
    ("version", "bigint", is_int8),
    ("position", "bigint", is_int8),
    ("event", "text", is_text),
];

/// Checks the column types of a `replay_events.sql` result once.
pub(super) fn check_replay_event_columns(
    row: &PgRow,
    operation: &dyn fmt::Display,
) -> Result<(), Error> {
    check_columns(row, operation, &REPLAY_COLUMNS)
}

/// Checks the column types of a `replay_versions.sql` result once: the version and the event.
pub(super) fn check_replay_version_columns(
    row: &PgRow,
    operation: &dyn fmt::Display,
) -> Result<(), Error> {
    check_columns(row, operation, &[REPLAY_COLUMNS[0], REPLAY_COLUMNS[2]])
}

fn is_int8(ty: &PgTypeInfo) -> bool {
    <i64 as Type<Postgres>>::compatible(ty)
}

fn is_text(ty: &PgTypeInfo) -> bool {
    <&str as Type<Postgres>>::compatible(ty)
}

/// What a column of a PostgreSQL result holds (see [`check_columns`]).
type ColumnType = crate::common::ColumnType<Postgres>;

/// Decodes one event row of a load of `stream`/`aggregate_id`, checking the result's columns
/// on its `first` row.
pub(super) fn decode_load_row(
    row: &PgRow,
    first: bool,
    (stream, aggregate_id): (&str, &str),
    operation: &dyn fmt::Display,
) -> Result<RecordedEvent, Error> {
    if first {
        check_event_columns(row, operation)?;
    }
    decode_event_of(row, (stream, aggregate_id), Decoding::PgChecked, operation)
}

/// Decodes one row of a read, an event or an unreadable row in its place, checking the
/// result's columns on its `first` row.
pub(super) fn decode_read_row<'r>(
    row: &'r PgRow,
    first: bool,
    operation: &dyn fmt::Display,
) -> Result<RowRef<'r>, Error> {
    if first {
        check_event_columns(row, operation)?;
    }
    read_event_row(row, Known::default(), Decoding::PgChecked, operation)
}
