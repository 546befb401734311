//! The column types of MySQL results, checked once per result so that the rows can be decoded
//! without checking every value ([`Decoding::MySqlChecked`]).
//!
//! Why: checking a value's type is a large part of reading it. A handler catching up on
//! 100,000 events on MariaDB spent 70 million instructions in `try_get` for the 8 columns of
//! each row (`BENCHMARKS.md`, "Rows packed until they are handled"). MySQL describes a
//! result's columns once, before its rows, and every value of a column has the column's type,
//! so the check `try_get` makes for every value is made once, on the first row, with the same
//! tests (sqlx's `compatible`); a column of MySQL's NULL type passes, as `try_get` passes
//! every NULL.
//!
//! [`Decoding::MySqlChecked`]: crate::common::Decoding::MySqlChecked

use std::fmt;

use evtstore::Error;
use sqlx::mysql::{MySqlRow, MySqlTypeInfo};
use sqlx::{MySql, Type, TypeInfo};

use crate::common::{ColumnType, check_columns};

/// Checks the columns of an event query's result (`read.sql`, `load.sql`): position, commit
/// key (NULL), version and timestamp integers, stream, aggregate_id, event and metadata text
/// (`load.sql` selects NULL for the stream and aggregate_id, which the caller knows).
pub(super) fn check_event_columns(
    row: &MySqlRow,
    operation: &dyn fmt::Display,
) -> Result<(), Error> {
    check_columns(
        row,
        operation,
        &[
            integer("position"),
            integer("commit key"),
            text("stream"),
            text("aggregate_id"),
            integer("version"),
            integer("timestamp"),
            text("event"),
            text("metadata"),
        ],
    )
}

/// Checks the columns of a `replay_events.sql` result: version, position, event.
pub(super) fn check_replay_event_columns(
    row: &MySqlRow,
    operation: &dyn fmt::Display,
) -> Result<(), Error> {
    check_columns(
        row,
        operation,
        &[integer("version"), integer("position"), text("event")],
    )
}

/// Checks the columns of a `replay_versions.sql` result: version, event.
pub(super) fn check_replay_version_columns(
    row: &MySqlRow,
    operation: &dyn fmt::Display,
) -> Result<(), Error> {
    check_columns(row, operation, &[integer("version"), text("event")])
}

fn integer(what: &'static str) -> ColumnType<MySql> {
    (what, "an integer", is_integer)
}

fn text(what: &'static str) -> ColumnType<MySql> {
    (what, "text", is_text)
}

fn is_integer(ty: &MySqlTypeInfo) -> bool {
    ty.is_null() || <i64 as Type<MySql>>::compatible(ty)
}

fn is_text(ty: &MySqlTypeInfo) -> bool {
    ty.is_null() || <&str as Type<MySql>>::compatible(ty)
}
