//! Pages of rows as handlers take them: rows a store decoded ahead of time are kept packed,
//! their texts in one buffer per delivery. A handler decodes each event where its row lies and
//! copies out only the aggregate id its [`EventMeta`](crate::EventMeta) owns; a row becomes a
//! [`RecordedEvent`] only for whoever takes it owned ([`Page::into_rows`], `Store::read`).
//!
//! Why: a handler catching up reads while the store decodes the rows ahead of it. With every
//! row kept as a `RecordedEvent` until it was handled, three strings per row stayed allocated
//! for as long as the row waited, tens of thousands at a time. glibc's allocator serves such
//! long-lived small blocks from its bins rather than from its per-thread cache, and merges
//! them again whenever a large block comes or goes: MariaDB's catch-up spent more
//! instructions allocating than decoding (`BENCHMARKS.md`, "Rows packed until they are
//! handled"). A string made just before its event is handled and dropped just after reuses the
//! same few blocks from that cache, as a plain read's rows do.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use crate::event::{Cursor, ReadRow, RecordedEvent, Timestamp, UnreadableRow, row_cursor};

/// An event row borrowed from wherever a store decoded it (a database row, a row kept in
/// memory): what [`PackedRows::push`] copies, and what [`RecordedEvent`] owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRow<'a> {
    /// Where the event sits in the global order.
    pub cursor: Cursor,
    /// The stream it belongs to.
    pub stream: &'a str,
    /// The aggregate it belongs to.
    pub aggregate_id: &'a str,
    /// The aggregate's version after it.
    pub version: u64,
    /// When it was appended.
    pub timestamp: Timestamp,
    /// The event as JSON text with a `type` field.
    pub event: &'a str,
    /// The stored metadata as JSON text, if any was given.
    pub metadata: Option<&'a str>,
}

impl EventRow<'_> {
    /// The event, owned.
    #[must_use]
    pub fn to_recorded(&self) -> RecordedEvent {
        RecordedEvent {
            cursor: self.cursor,
            stream: self.stream.to_owned(),
            aggregate_id: self.aggregate_id.to_owned(),
            version: self.version,
            timestamp: self.timestamp,
            event: self.event.to_owned(),
            metadata: self.metadata.map(str::to_owned),
        }
    }
}

impl RecordedEvent {
    /// The event, borrowed as an [`EventRow`].
    #[must_use]
    pub fn as_row(&self) -> EventRow<'_> {
        EventRow {
            cursor: self.cursor,
            stream: &self.stream,
            aggregate_id: &self.aggregate_id,
            version: self.version,
            timestamp: self.timestamp,
            event: &self.event,
            metadata: self.metadata.as_deref(),
        }
    }
}

/// Rows in cursor order, their texts packed into one buffer: what a store that decodes rows
/// ahead of its handlers keeps them as until they are taken (see [`Page`]).
///
/// ```
/// use evtstore::{Cursor, EventRow, PackedRows, Page, Timestamp};
///
/// let mut rows = PackedRows::default();
/// rows.push(Ok(EventRow {
///     cursor: Cursor::at(7),
///     stream: "users",
///     aggregate_id: "alice",
///     version: 1,
///     timestamp: Timestamp(0),
///     event: r#"{"type":"created"}"#,
///     metadata: None,
/// }));
/// let page = Page::from(rows);
/// assert_eq!(page.last_cursor(), Some(Cursor::at(7)));
/// let recorded = page.into_rows().remove(0).unwrap();
/// assert_eq!(recorded.aggregate_id, "alice");
/// ```
#[derive(Debug, Default)]
pub struct PackedRows {
    /// Each event's stream, aggregate id, event and metadata, one after the other.
    text: String,
    rows: Vec<Packed>,
}

/// One packed row: an event whose texts lie in [`PackedRows::text`] from `start` on, or a row
/// that cannot be one (rare, so boxed to keep the common row small).
#[derive(Debug)]
enum Packed {
    Event {
        cursor: Cursor,
        version: u64,
        timestamp: Timestamp,
        start: usize,
        /// Where the stream, the aggregate id and the event end.
        ends: [usize; 3],
        /// Where the metadata ends, when there is any.
        metadata_end: Option<usize>,
    },
    Unreadable(Box<UnreadableRow>),
}

impl PackedRows {
    /// Room for `rows` rows whose texts take `text_bytes` bytes in all.
    #[must_use]
    pub fn with_capacity(rows: usize, text_bytes: usize) -> Self {
        Self {
            text: String::with_capacity(text_bytes),
            rows: Vec::with_capacity(rows),
        }
    }

    /// Adds a row after the others.
    pub fn push(&mut self, row: Result<EventRow<'_>, UnreadableRow>) {
        let packed = match row {
            Ok(event) => {
                let start = self.text.len();
                let mut end_of = |text: &str| {
                    self.text.push_str(text);
                    self.text.len()
                };
                let ends = [
                    end_of(event.stream),
                    end_of(event.aggregate_id),
                    end_of(event.event),
                ];
                let metadata_end = event.metadata.map(end_of);
                Packed::Event {
                    cursor: event.cursor,
                    version: event.version,
                    timestamp: event.timestamp,
                    start,
                    ends,
                    metadata_end,
                }
            }
            Err(unreadable) => Packed::Unreadable(Box::new(unreadable)),
        };
        self.rows.push(packed);
    }

    /// How many rows there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// How many bytes the rows' texts take.
    #[must_use]
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// The cursor of the last row.
    #[must_use]
    pub fn last_cursor(&self) -> Option<Cursor> {
        self.len().checked_sub(1).map(|last| self.cursor(last))
    }

    fn cursor(&self, index: usize) -> Cursor {
        match &self.rows[index] {
            Packed::Event { cursor, .. } => *cursor,
            Packed::Unreadable(unreadable) => unreadable.cursor,
        }
    }

    /// The row at `index`, borrowed.
    fn view(&self, index: usize) -> RowView<'_> {
        match &self.rows[index] {
            &Packed::Event {
                cursor,
                version,
                timestamp,
                start,
                ends: [stream_end, aggregate_end, event_end],
                metadata_end,
            } => Ok(EventRow {
                cursor,
                stream: &self.text[start..stream_end],
                aggregate_id: &self.text[stream_end..aggregate_end],
                version,
                timestamp,
                event: &self.text[aggregate_end..event_end],
                metadata: metadata_end.map(|end| &self.text[event_end..end]),
            }),
            Packed::Unreadable(unreadable) => Err(unreadable),
        }
    }

    /// The row at `index`, owned.
    fn row(&self, index: usize) -> ReadRow {
        self.view(index)
            .map(|event| event.to_recorded())
            .map_err(Clone::clone)
    }
}

/// The rows of one read, in cursor order, as [`Store::read_page`](crate::Store::read_page)
/// returns them to a handler: rows as [`Store::read`](crate::Store::read) returns them, or
/// [`PackedRows`], each made a [`ReadRow`] only as it is taken.
///
/// ```
/// use evtstore::{Cursor, Page, RecordedEvent, Timestamp};
///
/// let event = |position| RecordedEvent {
///     cursor: Cursor::at(position),
///     stream: "users".to_owned(),
///     aggregate_id: "alice".to_owned(),
///     version: 1,
///     timestamp: Timestamp(0),
///     event: r#"{"type":"created"}"#.to_owned(),
///     metadata: None,
/// };
/// let mut page = Page::from(vec![Ok(event(1)), Ok(event(2)), Ok(event(3))]);
/// let front = page.split_to(2);
/// assert_eq!((front.len(), front.last_cursor()), (2, Some(Cursor::at(2))));
/// assert_eq!(page.into_rows(), vec![Ok(event(3))]);
/// ```
#[derive(Debug, Default)]
pub struct Page {
    parts: VecDeque<Part>,
    len: usize,
}

/// A run of a page's rows.
#[derive(Debug)]
enum Part {
    Rows(std::vec::IntoIter<ReadRow>),
    /// Rows of a delivery that two pages may share, when a page ends inside it.
    Packed(Arc<PackedRows>, Range<usize>),
}

impl Part {
    fn len(&self) -> usize {
        match self {
            Part::Rows(rows) => rows.len(),
            Part::Packed(_, range) => range.len(),
        }
    }

    fn last_cursor(&self) -> Option<Cursor> {
        match self {
            Part::Rows(rows) => rows.as_slice().last().map(row_cursor),
            Part::Packed(rows, range) => (!range.is_empty()).then(|| rows.cursor(range.end - 1)),
        }
    }

    /// Splits off the first `count` rows (fewer than there are).
    fn split_to(&mut self, count: usize) -> Part {
        match self {
            Part::Rows(rows) => {
                Part::Rows(rows.by_ref().take(count).collect::<Vec<_>>().into_iter())
            }
            Part::Packed(rows, range) => {
                let front = range.start..range.start + count;
                range.start = front.end;
                Part::Packed(Arc::clone(rows), front)
            }
        }
    }
}

impl Page {
    /// How many rows it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The cursor of its last row.
    #[must_use]
    pub fn last_cursor(&self) -> Option<Cursor> {
        self.parts.iter().rev().find_map(Part::last_cursor)
    }

    /// Adds the rows of `other` after its own.
    pub fn append(&mut self, other: Page) {
        self.len += other.len;
        self.parts.extend(other.parts);
    }

    /// Takes out its first `count` rows (all of them when it holds fewer), without copying
    /// packed rows: a part that the split falls inside is shared by both pages.
    pub fn split_to(&mut self, count: usize) -> Page {
        let mut front = Page::default();
        while front.len < count {
            let Some(mut part) = self.parts.pop_front() else {
                break;
            };
            let wanted = count - front.len;
            if part.len() > wanted {
                let taken = part.split_to(wanted);
                self.parts.push_front(part);
                part = taken;
            }
            front.len += part.len();
            front.parts.push_back(part);
        }
        self.len -= front.len;
        front
    }

    /// Its rows, owned.
    #[must_use]
    pub fn into_rows(mut self) -> Vec<ReadRow> {
        if let [Part::Rows(_)] = self.parts.make_contiguous()
            && let Some(Part::Rows(rows)) = self.parts.pop_front()
        {
            // Rows as a store returned them: given back in their own buffer.
            return rows.collect();
        }
        self.into_iter().collect()
    }
}

impl From<Vec<ReadRow>> for Page {
    fn from(rows: Vec<ReadRow>) -> Self {
        let len = rows.len();
        let parts = if len == 0 {
            VecDeque::new()
        } else {
            VecDeque::from([Part::Rows(rows.into_iter())])
        };
        Page { parts, len }
    }
}

impl From<PackedRows> for Page {
    fn from(rows: PackedRows) -> Self {
        let len = rows.len();
        let parts = if len == 0 {
            VecDeque::new()
        } else {
            VecDeque::from([Part::Packed(Arc::new(rows), 0..len)])
        };
        Page { parts, len }
    }
}

impl IntoIterator for Page {
    type Item = ReadRow;
    type IntoIter = PageRows;

    fn into_iter(mut self) -> PageRows {
        let mut rows = PageRows {
            current: self.parts.pop_front(),
            parts: self.parts,
        };
        rows.settle();
        rows
    }
}

/// A row of a page, borrowed where it lies: an event, or a row that cannot be one.
pub(crate) type RowView<'a> = Result<EventRow<'a>, &'a UnreadableRow>;

/// The rows of a [`Page`], each made owned as it is taken.
///
/// A handler looks at each row where it lies (its `peek`) and copies out only what
/// the model gets (the aggregate id of its [`EventMeta`](crate::EventMeta)): the row's other
/// strings are never allocated.
#[derive(Debug)]
pub struct PageRows {
    /// The part the next row is in; `None` once there are no rows left. Never an empty part.
    current: Option<Part>,
    parts: VecDeque<Part>,
}

impl PageRows {
    /// The next row, borrowed, without taking it.
    pub(crate) fn peek(&self) -> Option<RowView<'_>> {
        match self.current.as_ref()? {
            Part::Rows(rows) => rows
                .as_slice()
                .first()
                .map(|row| row.as_ref().map(RecordedEvent::as_row)),
            Part::Packed(rows, range) => Some(rows.view(range.start)),
        }
    }

    /// Passes over the next row.
    pub(crate) fn advance(&mut self) {
        match &mut self.current {
            Some(Part::Rows(rows)) => drop(rows.next()),
            Some(Part::Packed(_, range)) => drop(range.next()),
            None => {}
        }
        self.settle();
    }

    /// Moves on past empty parts, so that `current` holds the next row.
    fn settle(&mut self) {
        while self.current.as_ref().is_some_and(|part| part.len() == 0) {
            self.current = self.parts.pop_front();
        }
    }
}

impl Iterator for PageRows {
    type Item = ReadRow;

    fn next(&mut self) -> Option<ReadRow> {
        let row = match self.current.as_mut()? {
            Part::Rows(rows) => rows.next(),
            Part::Packed(rows, range) => range.next().map(|index| rows.row(index)),
        };
        self.settle();
        row
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.current.iter().chain(&self.parts).map(Part::len).sum();
        (left, Some(left))
    }
}

impl ExactSizeIterator for PageRows {}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(position: i64, metadata: Option<&str>) -> RecordedEvent {
        RecordedEvent {
            cursor: Cursor::at(position),
            stream: "users".to_owned(),
            aggregate_id: format!("user-{position}"),
            version: u64::try_from(position).unwrap(),
            timestamp: Timestamp(position * 1000),
            event: format!(r#"{{"type":"created","n":{position}}}"#),
            metadata: metadata.map(str::to_owned),
        }
    }

    fn unreadable(position: i64) -> UnreadableRow {
        UnreadableRow {
            cursor: Cursor::at(position),
            stream: Some("users".to_owned()),
            aggregate_id: None,
            reason: "its event is NULL".to_owned(),
        }
    }

    /// Rows at the positions of `range`: unreadable at multiples of 5, with metadata at the
    /// other multiples of 3.
    fn rows(range: Range<i64>) -> Vec<ReadRow> {
        range
            .map(|position| match position {
                p if p % 5 == 0 => Err(unreadable(p)),
                p if p % 3 == 0 => Ok(event(p, Some(r#"{"user":"bob"}"#))),
                p => Ok(event(p, None)),
            })
            .collect()
    }

    fn packed(rows: &[ReadRow]) -> PackedRows {
        let mut packed = PackedRows::default();
        for row in rows {
            packed.push(
                row.as_ref()
                    .map(RecordedEvent::as_row)
                    .map_err(Clone::clone),
            );
        }
        packed
    }

    #[test]
    fn packed_rows_come_back_as_they_went_in() {
        let rows = rows(1..31);
        let page = Page::from(packed(&rows));
        assert_eq!(page.len(), 30);
        assert_eq!(page.last_cursor(), Some(Cursor::at(30)));
        assert_eq!(page.into_iter().collect::<Vec<_>>(), rows);
    }

    #[test]
    fn peeked_rows_are_the_rows_taken() {
        let all = rows(1..21);
        let mut page = Page::from(packed(&all[..7]));
        page.append(Page::from(all[7..12].to_vec()));
        page.append(Page::from(packed(&all[12..])));
        let mut pending = page.split_to(20).into_iter();
        let mut seen = Vec::new();
        while let Some(view) = pending.peek() {
            let peeked = view.map(|event| event.to_recorded()).map_err(Clone::clone);
            // Every other row is passed over after a look, the rest taken.
            if seen.len() % 2 == 0 {
                pending.advance();
            } else {
                assert_eq!(pending.next().as_ref(), Some(&peeked));
            }
            seen.push(peeked);
        }
        assert_eq!(pending.next(), None);
        assert_eq!(seen, all);
    }

    #[test]
    fn pages_split_across_parts_keep_every_row_once_in_order() {
        let all = rows(1..41);
        let mut chain = Page::default();
        chain.append(Page::from(packed(&all[..13])));
        chain.append(Page::from(all[13..20].to_vec()));
        chain.append(Page::default());
        chain.append(Page::from(packed(&all[20..])));
        let mut seen = Vec::new();
        for size in [5, 10, 6, 100] {
            let page = chain.split_to(size);
            let expected = size.min(all.len() - seen.len());
            assert_eq!(page.len(), expected);
            assert_eq!(
                page.last_cursor(),
                all.get(seen.len() + expected - 1).map(row_cursor)
            );
            seen.extend(page.into_rows());
        }
        assert_eq!(seen, all);
        assert!(chain.is_empty());
        assert_eq!(chain.last_cursor(), None);
    }
}
