//! What the backends share: error mapping, row decoding, append checks.

use std::fmt;

use evtstore::{
    Append, Cursor, Error, EventRow, RecordedEvent, Replayed, Snapshot, Timestamp, UnreadableRow,
};
use sqlx::{ColumnIndex, Decode, Row, Type};

/// A driver error as [`Error::Database`], keeping the database's message.
pub(crate) fn db_error(operation: impl fmt::Display, error: sqlx::Error) -> Error {
    Error::database(operation, error)
}

/// Decodes the rows of a query one by one as the driver yields them, `decode` getting each
/// row and whether it is the first (to check the result's columns once).
///
/// Why not `fetch_all` and then decode: a driver row keeps its bytes in the connection's read
/// buffer, so collecting every row first keeps the whole result alive, and the buffer is grown
/// and copied instead of reused. Reading 100,000 events on PostgreSQL took about 100 ms through
/// `fetch_all` against 55-70 ms streamed, the same rows decoded the same way (see
/// `BENCHMARKS.md`, "Catch-up at the read limit").
pub(crate) async fn decode_streamed<R, T>(
    rows: futures_util::stream::BoxStream<'_, Result<R, sqlx::Error>>,
    operation: &(dyn fmt::Display + Sync),
    mut decode: impl FnMut(&R, bool) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    let mut decoded = Vec::new();
    each_row(rows, operation, |row, first| {
        decoded.push(decode(row, first)?);
        Ok(())
    })
    .await?;
    Ok(decoded)
}

/// As [`decode_streamed`], giving each row to `visit` as soon as it arrives instead of
/// collecting what it decodes; returns how many rows there were. Read-ahead passes rows on to
/// the handler this way, a page at a time, while the rest of the result is still arriving, and
/// decodes them borrowed from the driver's row (see [`read_event_row`]).
pub(crate) async fn each_row<R>(
    mut rows: futures_util::stream::BoxStream<'_, Result<R, sqlx::Error>>,
    operation: &(dyn fmt::Display + Sync),
    mut visit: impl FnMut(&R, bool) -> Result<(), Error>,
) -> Result<usize, Error> {
    use futures_util::TryStreamExt;
    let mut count = 0;
    while let Some(row) = rows
        .try_next()
        .await
        .map_err(|error| db_error(operation, error))?
    {
        visit(&row, count == 0)?;
        count += 1;
    }
    Ok(count)
}

/// A row that cannot be an event: a NULL or out-of-range value in a required column.
#[derive(Debug)]
pub(crate) struct MalformedRow(pub(crate) String);

impl fmt::Display for MalformedRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MalformedRow {}

/// Whether a failed append hit the unique key on (stream, aggregate_id, version), by the
/// backend's unique-violation code and the name of the violated key (so a clash on another
/// unique key stays a database error).
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn is_version_conflict(error: &sqlx::Error, unique_violation_code: &str) -> bool {
    let sqlx::Error::Database(db) = error else {
        return false;
    };
    if db.code().as_deref() != Some(unique_violation_code) {
        return false;
    }
    // PostgreSQL names the constraint; SQLite and MySQL name the columns or key in the message.
    let names_version = |text: &str| text.contains("version");
    db.constraint()
        .map_or_else(|| names_version(db.message()), names_version)
}

/// The operation label of an append, for error messages.
pub(crate) fn appending(append: &Append<'_>) -> String {
    format!("appending to {}/{}", append.stream, append.aggregate_id)
}

/// The first version of an append, after checking that the versions are consecutive.
/// `None` for an empty append, which stores nothing.
pub(crate) fn first_version(append: &Append<'_>) -> Result<Option<i64>, Error> {
    let Some(first) = append.events.first() else {
        return Ok(None);
    };
    let conflict = |version| Error::VersionConflict {
        stream: append.stream.to_owned(),
        aggregate_id: append.aggregate_id.to_owned(),
        version,
    };
    for (offset, event) in append.events.iter().enumerate() {
        if event.version != first.version + offset as u64 {
            return Err(conflict(event.version));
        }
    }
    if first.version == 0 {
        return Err(conflict(0));
    }
    let first_version = i64::try_from(first.version).map_err(|_| {
        Error::database(
            appending(append),
            MalformedRow(format!("version {} does not fit in i64", first.version)),
        )
    })?;
    Ok(Some(first_version))
}

/// The conflict reported when an append found the aggregate at another version than it
/// expected.
pub(crate) fn conflict(append: &Append<'_>) -> Error {
    Error::VersionConflict {
        stream: append.stream.to_owned(),
        aggregate_id: append.aggregate_id.to_owned(),
        version: append.events.first().map_or(0, |event| event.version),
    }
}

/// The column layout of every event query: position, commit key, stream, aggregate_id,
/// version, timestamp (epoch ms), event, metadata. Backends without a commit key select 0 or
/// NULL (MySQL), both read as 0.
/// A row that cannot be an event comes back as an [`UnreadableRow`] in its place (see
/// [`read_event_row`]).
#[cfg_attr(not(any(feature = "sqlite", feature = "mysql")), allow(dead_code))]
pub(crate) fn decode_read_row<'r, R>(
    row: &'r R,
    operation: &dyn fmt::Display,
) -> Result<RowRef<'r>, Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Type<R::Database> + for<'x> Decode<'x, R::Database>,
    &'r str: Type<R::Database> + Decode<'r, R::Database>,
{
    read_event_row(row, Known::default(), Decoding::Checked, operation)
}

/// An event row borrowed from the driver's row, or a row that cannot be an event in its place:
/// what read-ahead packs (see [`evtstore::Page`]).
pub(crate) type RowRef<'r> = Result<EventRow<'r>, UnreadableRow>;

/// How the values of an event row are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decoding {
    /// Each value checked against its type, as `try_get` does (SQLite's values carry their own
    /// types, so each one needs it); the commit key a `bigint` (0 on stores without one), the
    /// timestamp epoch milliseconds.
    Checked,
    /// PostgreSQL rows whose column types were checked once for the whole result (see
    /// `postgres::check_event_columns`): values are read without the per-value check, which
    /// costs about as much as the decoding. The commit key is the raw `xid8` (its binary form
    /// is an 8-byte integer, as `bigint`'s) and the timestamp the raw `timestamptz` (binary:
    /// microseconds since 2000-01-01 UTC), so the server converts neither.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    PgChecked,
    /// MySQL rows whose column types were checked once for the whole result (see
    /// `mysql::columns`): values are read without the per-value check, as
    /// [`PgChecked`](Self::PgChecked) reads PostgreSQL's; the timestamp epoch milliseconds.
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    MySqlChecked,
}

/// Milliseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC).
const PG_EPOCH_MILLIS: i64 = 946_684_800_000;

/// A PostgreSQL binary timestamp (microseconds since 2000-01-01) as Unix epoch milliseconds,
/// rounded to the nearest millisecond.
pub(crate) fn pg_micros_to_millis(micros: i64) -> i64 {
    micros.saturating_add(500).div_euclid(1000) + PG_EPOCH_MILLIS
}

/// An event row of one aggregate (`load` selects NULL for the stream and aggregate_id columns,
/// which the caller knows, rather than sending them with every row). A row that cannot be an
/// event is a broken history of that aggregate.
pub(crate) fn decode_event_of<'r, R>(
    row: &'r R,
    (stream, aggregate_id): (&'r str, &'r str),
    decoding: Decoding,
    operation: &dyn fmt::Display,
) -> Result<RecordedEvent, Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Type<R::Database> + for<'x> Decode<'x, R::Database>,
    &'r str: Type<R::Database> + Decode<'r, R::Database>,
{
    let known = Known {
        stream: Some(stream),
        aggregate_id: Some(aggregate_id),
    };
    match read_event_row(row, known, decoding, operation)? {
        Ok(event) => Ok(event.to_recorded()),
        Err(unreadable) => Err(Error::BrokenHistory {
            stream: stream.to_owned(),
            aggregate_id: aggregate_id.to_owned(),
            detail: format!(
                "the row at position {} cannot be read: {}",
                unreadable.cursor.position, unreadable.reason
            ),
        }),
    }
}

/// What the caller of an event query knows of all its rows, which the statement then selects
/// as NULL rather than sending with every row: a load knows its aggregate, a read of one
/// stream its stream.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Known<'a> {
    pub(crate) stream: Option<&'a str>,
    pub(crate) aggregate_id: Option<&'a str>,
}

/// Reads an event row, its texts borrowed from the driver's row. The outer error is for a row
/// without a position, which has no place in the order of the streams; every other problem (a
/// NULL or mistyped value, a version below 1) makes the row an [`UnreadableRow`] that keeps
/// its place, so that it never hides the rows around it.
pub(crate) fn read_event_row<'r, R>(
    row: &'r R,
    known: Known<'r>,
    decoding: Decoding,
    operation: &dyn fmt::Display,
) -> Result<RowRef<'r>, Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Type<R::Database> + for<'x> Decode<'x, R::Database>,
    &'r str: Type<R::Database> + Decode<'r, R::Database>,
{
    let checked = decoding == Decoding::Checked;
    let get_i64 = |index: usize| {
        if checked {
            row.try_get::<Option<i64>, _>(index)
        } else {
            row.try_get_unchecked::<Option<i64>, _>(index)
        }
    };
    let get_str = |index: usize| {
        if checked {
            row.try_get::<Option<&'r str>, _>(index)
        } else {
            row.try_get_unchecked::<Option<&'r str>, _>(index)
        }
    };
    let position = get_i64(0)
        .map_err(|error| db_error(operation, error))?
        .ok_or_else(|| {
            Error::database(
                operation,
                MalformedRow("an event row has no position".to_owned()),
            )
        })?;
    let commit = get_i64(1).ok().flatten().unwrap_or(0);
    let cursor = Cursor { commit, position };
    let column = |index: usize, what: &str| match get_str(index) {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(format!("its {what} is NULL")),
        Err(error) => Err(format!("its {what} cannot be read: {error}")),
    };
    let stream = known.stream.map_or_else(|| column(2, "stream"), Ok);
    let aggregate_id = known
        .aggregate_id
        .map_or_else(|| column(3, "aggregate_id"), Ok);
    let rest = || -> Result<(u64, i64, &'r str, Option<&'r str>), String> {
        let version = match get_i64(4) {
            Ok(Some(version)) => version,
            Ok(None) => return Err("its version is NULL".to_owned()),
            Err(error) => return Err(format!("its version cannot be read: {error}")),
        };
        let version = u64::try_from(version)
            .ok()
            .filter(|version| *version > 0)
            .ok_or_else(|| format!("its version is {version}; versions start at 1"))?;
        let timestamp = match get_i64(5) {
            Ok(Some(timestamp)) => timestamp,
            Ok(None) => return Err("its timestamp is NULL".to_owned()),
            Err(error) => return Err(format!("its timestamp cannot be read: {error}")),
        };
        let timestamp = match decoding {
            Decoding::Checked | Decoding::MySqlChecked => timestamp,
            Decoding::PgChecked => pg_micros_to_millis(timestamp),
        };
        let event = column(6, "event")?;
        let metadata =
            get_str(7).map_err(|error| format!("its metadata cannot be read: {error}"))?;
        Ok((version, timestamp, event, metadata))
    };
    Ok(match (stream, aggregate_id, rest()) {
        (Ok(stream), Ok(aggregate_id), Ok((version, timestamp, event, metadata))) => Ok(EventRow {
            cursor,
            stream,
            aggregate_id,
            version,
            timestamp: Timestamp(timestamp),
            event,
            metadata,
        }),
        (stream, aggregate_id, rest) => {
            let reason = [&stream, &aggregate_id]
                .into_iter()
                .filter_map(|part| part.as_ref().err().cloned())
                .chain(rest.err())
                .collect::<Vec<_>>()
                .join("; ");
            Err(UnreadableRow {
                cursor,
                stream: stream.ok().map(str::to_owned),
                aggregate_id: aggregate_id.ok().map(str::to_owned),
                reason,
            })
        }
    })
}

/// One replay: what it reads, the columns of its statement's rows, and its operation label
/// for errors (formatted only when an error needs it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Replaying<'a> {
    pub(crate) stream: &'a str,
    pub(crate) aggregate_id: &'a str,
    /// The version the replay starts after (the aggregate's cached or snapshot version).
    pub(crate) after_version: u64,
    pub(crate) columns: ReplayColumns,
}

impl<'a> Replaying<'a> {
    /// The replay of `stream`/`aggregate_id` after `after_version`, by a statement whose rows
    /// have `columns`.
    pub(crate) fn new(
        stream: &'a str,
        aggregate_id: &'a str,
        after_version: u64,
        columns: ReplayColumns,
    ) -> Self {
        Replaying {
            stream,
            aggregate_id,
            after_version,
            columns,
        }
    }
}

impl fmt::Display for Replaying<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "replaying {}/{}", self.stream, self.aggregate_id)
    }
}

/// Whether a replay reads the events' positions: `Store::replay` or
/// `Store::replay_without_positions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Positions {
    Read,
    Skip,
}

/// The columns of a replay statement's rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReplayColumns {
    /// SQLite's `replay.sql`: kind (0 for the snapshot, 1 for an event), version, position
    /// (NULL for the snapshot), then the state or the event. (PostgreSQL and MySQL read the
    /// snapshot by a statement of its own: [`replay_from_snapshot`].)
    SnapshotAndEvents,
    /// `replay_events.sql`, for the events of an aggregate without snapshots, or after its
    /// snapshot on PostgreSQL and MySQL: version, position, event. Every row is an event, so no constant kind is sent with each: every value of a row costs the
    /// drivers an allocation or a conversion (on SQLite and PostgreSQL the whole gap to the
    /// baseline's one-column read; see `BENCHMARKS.md`).
    EventsOnly,
    /// `replay_versions.sql`, for [`Store::replay_without_positions`](evtstore::Store), as
    /// `EventsOnly`: version, event. One value a row less.
    VersionsAndEvents,
}

/// Decodes one row of a `replay` statement, borrowing its text (its columns are
/// `operation.columns`).
/// `checked` reads each value checked against its type; otherwise the caller has checked the
/// column types of the result already.
/// `first` tells whether the row is the first of the result: a snapshot anywhere else would be
/// folded over events, so it is refused as malformed.
pub(crate) fn decode_replayed<'r, R>(
    row: &'r R,
    first: bool,
    checked: bool,
    operation: &Replaying<'_>,
) -> Result<Replayed<'r>, Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Type<R::Database> + Decode<'r, R::Database>,
    &'r str: Type<R::Database> + Decode<'r, R::Database>,
{
    let fail = |message: String| Error::database(operation, MalformedRow(message));
    let get_i64 = |index: usize| {
        if checked {
            row.try_get::<Option<i64>, _>(index)
        } else {
            row.try_get_unchecked::<Option<i64>, _>(index)
        }
        .map_err(|error| db_error(operation, error))
    };
    // The kind, and the indexes of the version, the position (when sent) and the text.
    let (kind, at, position_at, text_at) = match operation.columns {
        ReplayColumns::SnapshotAndEvents => (get_i64(0)?, 1, Some(2), 3),
        ReplayColumns::EventsOnly => (Some(1), 0, Some(1), 2),
        ReplayColumns::VersionsAndEvents => (Some(1), 0, None, 1),
    };
    let text = if checked {
        row.try_get::<Option<&'r str>, _>(text_at)
    } else {
        row.try_get_unchecked::<Option<&'r str>, _>(text_at)
    }
    .map_err(|error| db_error(operation, error))?;
    match kind {
        Some(0) => {
            let (version, state) = snapshot_values(get_i64(at)?, text, operation)?;
            if !first {
                return Err(fail(format!(
                    "the snapshot at version {version} came after events"
                )));
            }
            Ok(Replayed::Snapshot { version, state })
        }
        Some(1) => {
            let position = match position_at {
                Some(index) => Some(
                    get_i64(index)?
                        .ok_or_else(|| fail("an event row has no position".to_owned()))?,
                ),
                None => None,
            };
            // A row no evtstore writer makes: the aggregate's history is not whole.
            let broken = |detail: String| Error::BrokenHistory {
                stream: operation.stream.to_owned(),
                aggregate_id: operation.aggregate_id.to_owned(),
                detail: match position {
                    Some(position) => {
                        format!("the row at position {position} cannot be read: {detail}")
                    }
                    None => format!("a row cannot be read: {detail}"),
                },
            };
            let version = get_i64(at)?.ok_or_else(|| broken("its version is NULL".to_owned()))?;
            let version = u64::try_from(version)
                .ok()
                .filter(|version| *version > 0)
                .ok_or_else(|| broken(format!("its version is {version}; versions start at 1")))?;
            let event = text.ok_or_else(|| broken("its event is NULL".to_owned()))?;
            Ok(Replayed::Event {
                version,
                position,
                event,
            })
        }
        kind => Err(fail(format!(
            "a replayed row has kind {kind:?}, neither 0 (snapshot) nor 1 (event)"
        ))),
    }
}

/// The `evtstore.replay` span of one replay, the same on every backend and read: it records,
/// once the replay ends, whether a snapshot came (`snapshot`) and how many events (`events`).
pub(crate) fn replay_span(operation: &Replaying<'_>) -> tracing::Span {
    tracing::debug_span!(
        "evtstore.replay",
        stream = operation.stream,
        aggregate_id = operation.aggregate_id,
        after_version = operation.after_version,
        snapshot = tracing::field::Empty,
        events = tracing::field::Empty,
    )
}

/// A check of a result's column types, run on its first row, after which the values are read
/// without per-value checks (see [`Decoding::PgChecked`]).
pub(crate) type CheckColumns<R> = fn(&R, &dyn fmt::Display) -> Result<(), Error>;

/// What a column holds and the name of its expected type, for the error, and the test of its
/// type.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) type ColumnType<DB> = (
    &'static str,
    &'static str,
    fn(&<DB as sqlx::Database>::TypeInfo) -> bool,
);

/// Checks that the leading columns of a result have the expected types, once per result, so
/// that its rows can be read without checking every value: PostgreSQL and MySQL describe the
/// columns once per result, and every value of a column has the column's type.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) fn check_columns<R: Row>(
    row: &R,
    operation: &dyn fmt::Display,
    expected: &[ColumnType<R::Database>],
) -> Result<(), Error> {
    use sqlx::{Column, TypeInfo};
    let columns = row.columns();
    for (index, &(what, type_name, ok)) in expected.iter().enumerate() {
        match columns.get(index) {
            Some(column) if ok(column.type_info()) => {}
            found => {
                return Err(Error::database(
                    operation,
                    MalformedRow(format!(
                        "column {index} of the result ({what}) is {}, expected {type_name}",
                        found.map_or("missing", |column| column.type_info().name())
                    )),
                ));
            }
        }
    }
    Ok(())
}

/// What a replay handed over, for its span.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    snapshot: bool,
    events: usize,
}

impl Seen {
    fn record(self, span: &tracing::Span) {
        span.record("snapshot", self.snapshot);
        span.record("events", self.events);
    }
}

/// Streams the rows of a `replay` statement to `visit`, decoding each in place: with
/// `check_columns`, the column types are checked once on the first row; without, every value
/// is checked (SQLite's values carry their own types). The statement runs (its rows stream)
/// inside `span`, the replay's `evtstore.replay` span ([`replay_span`]), which records whether
/// a snapshot came and how many events; the same on every backend. (SQLite passes the span its
/// lighter read opened, when that read found the history not whole and this one reads it
/// again.)
pub(crate) async fn visit_replayed<'q, R, F>(
    span: tracing::Span,
    rows: futures_util::stream::BoxStream<'q, Result<R, sqlx::Error>>,
    check_columns: Option<CheckColumns<R>>,
    operation: &Replaying<'_>,
    mut visit: F,
) -> Result<(), Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    for<'r> &'r str: Type<R::Database> + Decode<'r, R::Database>,
    F: FnMut(Replayed<'_>) -> Result<(), Error>,
{
    use tracing::Instrument;

    let mut seen = Seen::default();
    let replayed = visit_rows(None, rows, check_columns, operation, &mut seen, &mut visit)
        .instrument(span.clone())
        .await;
    seen.record(&span);
    replayed
}

/// The loop of [`visit_replayed`], counting what it hands over in `seen`: `ahead` (a snapshot
/// read by a statement of its own), then each row of `rows`.
///
/// Every item reaches `visit` from the one call in this loop. A visitor called from two places
/// (the snapshot's was a call of its own at first) was no longer inlined into the loop: 0.9%
/// more instructions for a 1,000-event load without snapshots (`BENCHMARKS.md`).
async fn visit_rows<'q, R, F>(
    ahead: Option<Replayed<'_>>,
    mut rows: futures_util::stream::BoxStream<'q, Result<R, sqlx::Error>>,
    check_columns: Option<CheckColumns<R>>,
    operation: &Replaying<'_>,
    seen: &mut Seen,
    visit: &mut F,
) -> Result<(), Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    for<'r> &'r str: Type<R::Database> + Decode<'r, R::Database>,
    F: FnMut(Replayed<'_>) -> Result<(), Error>,
{
    use futures_util::TryStreamExt;

    let mut ahead = ahead;
    let mut first = true;
    loop {
        let row;
        let item = match ahead.take() {
            Some(item) => item,
            None => {
                let Some(next) = rows
                    .try_next()
                    .await
                    .map_err(|error| db_error(operation, error))?
                else {
                    return Ok(());
                };
                row = next;
                if first && let Some(check) = check_columns {
                    check(&row, operation)?;
                }
                let item = decode_replayed(&row, first, check_columns.is_none(), operation)?;
                first = false;
                item
            }
        };
        match item {
            Replayed::Snapshot { .. } => seen.snapshot = true,
            Replayed::Event { .. } => seen.events += 1,
        }
        visit(item)?;
    }
}

/// The replay of an aggregate on PostgreSQL and MySQL, in the `evtstore.replay` span as
/// [`visit_replayed`]. For an aggregate that keeps snapshots, `snapshot` runs the backend's
/// `replay_snapshot.sql`: the snapshot newer than the replay's start, if any, with a version
/// that tells whether events follow it (MySQL: the highest among the aggregate's events;
/// PostgreSQL: the first after the snapshot's, NULL when there is none, which reads no event
/// row when the snapshot is current). When no event follows the snapshot (the usual case:
/// every command stores one), that one row is the whole replay, one round trip. Otherwise
/// `events(bound)` reads the events with a version above `bound`: the snapshot's version, or,
/// with no snapshot (none stored, or `snapshot` is `None` for an aggregate without them),
/// [`version_bound`] of the replay's start (`operation.columns` are that statement's). After
/// a snapshot the bound is its own version even when that is 0, so that rows at or below it
/// are left out, as SQLite's union leaves them out.
///
/// Two statements see the aggregate at two moments, and that is as good as one: events are
/// never changed or removed, so the events read after the snapshot are the ones that followed
/// it, and any appended between the statements make a later, still whole, history.
pub(crate) async fn replay_from_snapshot<'q, R, F, E>(
    operation: &Replaying<'_>,
    snapshot: Option<impl Future<Output = Result<Option<R>, sqlx::Error>>>,
    events: E,
    check_columns: Option<CheckColumns<R>>,
    mut visit: F,
) -> Result<(), Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    for<'r> &'r str: Type<R::Database> + Decode<'r, R::Database>,
    E: FnOnce(i64) -> futures_util::stream::BoxStream<'q, Result<R, sqlx::Error>>,
    F: FnMut(Replayed<'_>) -> Result<(), Error>,
{
    use futures_util::StreamExt;
    use tracing::Instrument;

    let span = replay_span(operation);
    let mut seen = Seen::default();
    let replayed = async {
        let row = match snapshot {
            Some(snapshot) => snapshot.await.map_err(|error| db_error(operation, error))?,
            None => None,
        };
        let Some(row) = &row else {
            let rows = events(version_bound(operation.after_version));
            return visit_rows(None, rows, check_columns, operation, &mut seen, &mut visit).await;
        };
        let (version, state, later) = decode_snapshot_row(row, operation)?;
        let snapshot = Some(Replayed::Snapshot { version, state });
        let version = i64::try_from(version).unwrap_or(i64::MAX);
        let rows = if later.is_some_and(|later| later > version) {
            events(version)
        } else {
            futures_util::stream::empty().boxed()
        };
        visit_rows(
            snapshot,
            rows,
            check_columns,
            operation,
            &mut seen,
            &mut visit,
        )
        .await
    }
    .instrument(span.clone())
    .await;
    seen.record(&span);
    replayed
}

/// Decodes the row of a `replay_snapshot.sql` statement: the snapshot's version and state,
/// and the version that tells whether events follow it (see [`replay_from_snapshot`]).
fn decode_snapshot_row<'r, R>(
    row: &'r R,
    operation: &Replaying<'_>,
) -> Result<(u64, &'r str, Option<i64>), Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Type<R::Database> + Decode<'r, R::Database>,
    &'r str: Type<R::Database> + Decode<'r, R::Database>,
{
    let db = |error| db_error(operation, error);
    let version = row.try_get::<Option<i64>, _>(0).map_err(db)?;
    let state = row.try_get::<Option<&'r str>, _>(1).map_err(db)?;
    let (version, state) = snapshot_values(version, state, operation)?;
    let later = row.try_get::<Option<i64>, _>(2).map_err(db)?;
    Ok((version, state, later))
}

/// A stored snapshot's version and state, refusing NULLs and a negative version.
fn snapshot_values<'r>(
    version: Option<i64>,
    state: Option<&'r str>,
    operation: &Replaying<'_>,
) -> Result<(u64, &'r str), Error> {
    let fail = |message: &str| Error::database(operation, MalformedRow(message.to_owned()));
    let version = version.ok_or_else(|| fail("the snapshot has no version (NULL)"))?;
    let version = stored_version(version, operation)?;
    let state = state.ok_or_else(|| fail("the snapshot has no state (NULL)"))?;
    Ok((version, state))
}

/// The longest stream, aggregate id, bookmark name or snapshot tag a store keeps: the columns
/// are `VARCHAR(255)` on every backend (SQLite does not enforce it; the limit is kept there
/// too, so that data moves between backends and the TypeScript evtstore's schema).
pub(crate) const MAX_NAME_CHARS: usize = 255;

/// Refuses a name or id longer than the schema's column keeps, before anything is written: a
/// database would refuse it with a less helpful error, or (MySQL outside strict mode) cut it.
pub(crate) fn check_name(what: &'static str, value: &str, max_chars: usize) -> Result<(), Error> {
    let length = value.chars().count();
    if length <= max_chars {
        return Ok(());
    }
    Err(Error::TooLong {
        what,
        preview: value.chars().take(40).chain("…".chars()).collect(),
        length,
        max: max_chars,
    })
}

/// The lowest stored version a load after `after_version` reads. From the start it is the
/// lowest value the column holds, so that a row with a version of 0 or below (written by
/// another program) is seen and refused instead of silently left out of the fold.
pub(crate) fn version_bound(after_version: u64) -> i64 {
    match after_version {
        0 => i64::MIN,
        after => i64::try_from(after).unwrap_or(i64::MAX),
    }
}

/// A stored version as `u64`, refusing negative values.
pub(crate) fn stored_version(version: i64, operation: &dyn fmt::Display) -> Result<u64, Error> {
    u64::try_from(version).map_err(|_| {
        Error::database(
            operation,
            MalformedRow(format!("stored version {version} is negative")),
        )
    })
}

/// Splits a migration file into its statements: they are separated by lines holding only `;`
/// so that statement bodies may contain semicolons.
pub(crate) fn statements(sql: &str) -> impl Iterator<Item = &str> {
    sql.split("\n;\n").map(str::trim).filter(|statement| {
        statement
            .lines()
            .any(|line| !line.trim().is_empty() && !line.trim_start().starts_with("--"))
    })
}

/// A stored snapshot from a row of (version, tag, state), as every backend's `snapshot_get.sql`
/// returns it.
pub(crate) fn snapshot_from_row<R>(row: &R, operation: &dyn fmt::Display) -> Result<Snapshot, Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    String: Type<R::Database> + for<'r> Decode<'r, R::Database>,
{
    let version: i64 = row.try_get(0).map_err(|error| db_error(operation, error))?;
    let tag: String = row.try_get(1).map_err(|error| db_error(operation, error))?;
    let state: String = row.try_get(2).map_err(|error| db_error(operation, error))?;
    Ok(Snapshot {
        version: stored_version(version, operation)?,
        tag,
        state,
    })
}

/// A snapshot's version as the databases store it (a signed 64-bit integer).
pub(crate) fn snapshot_version(
    snapshot: &Snapshot,
    operation: &dyn fmt::Display,
) -> Result<i64, Error> {
    i64::try_from(snapshot.version).map_err(|_| {
        Error::database(
            operation,
            MalformedRow(format!("version {} does not fit in i64", snapshot.version)),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::{pg_micros_to_millis, statements};

    #[test]
    fn postgres_timestamps_become_unix_millis() {
        assert_eq!(pg_micros_to_millis(0), 946_684_800_000);
        assert_eq!(pg_micros_to_millis(-946_684_800_000_000), 0);
        assert_eq!(pg_micros_to_millis(1_499), 946_684_800_001);
        assert_eq!(pg_micros_to_millis(1_500), 946_684_800_002);
        assert_eq!(pg_micros_to_millis(-1_001), 946_684_799_999);
    }

    #[test]
    fn splits_on_semicolon_lines() {
        let sql = "-- head\nCREATE a;\n;\nCREATE b\n;\n-- only a comment\n;\n";
        assert_eq!(
            statements(sql).collect::<Vec<_>>(),
            ["-- head\nCREATE a;", "CREATE b"]
        );
    }
}
