//! The names of the tables a store uses, validated before they reach any SQL.

use std::fmt;

use evtstore::Error;

/// The longest table name accepted. Index and helper names append up to 30 characters to it,
/// and PostgreSQL (63) and MySQL (64) limit identifiers, silently truncating on PostgreSQL.
pub const MAX_TABLE_NAME: usize = 32;

/// The table names of a store: where events, bookmarks and snapshots live.
///
/// The defaults (`events`, `bookmarks`, `snapshots`) match the TypeScript evtstore, so a
/// database it wrote is read and extended as it is. Every name must be a plain SQL identifier:
/// an ASCII letter or underscore, then letters, digits or underscores, at most
/// [`MAX_TABLE_NAME`] characters. Names are checked here, so no unchecked text is ever spliced
/// into SQL.
///
/// ```
/// use evtstore_sqlx::Tables;
///
/// let tables = Tables::with_prefix("billing_").unwrap();
/// assert_eq!(tables.events(), "billing_events");
/// assert!(Tables::new("events; DROP TABLE x", "bookmarks", "snapshots").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tables {
    events: String,
    bookmarks: String,
    snapshots: String,
}

impl Default for Tables {
    fn default() -> Self {
        Tables {
            events: "events".to_owned(),
            bookmarks: "bookmarks".to_owned(),
            snapshots: "snapshots".to_owned(),
        }
    }
}

impl Tables {
    /// Three explicit table names.
    ///
    /// # Errors
    /// [`Error::Config`] when a name is not a plain identifier or two names are equal.
    pub fn new(
        events: impl Into<String>,
        bookmarks: impl Into<String>,
        snapshots: impl Into<String>,
    ) -> Result<Self, Error> {
        let tables = Tables {
            events: events.into(),
            bookmarks: bookmarks.into(),
            snapshots: snapshots.into(),
        };
        for name in [&tables.events, &tables.bookmarks, &tables.snapshots] {
            validate_identifier(name)?;
        }
        if tables.events == tables.bookmarks
            || tables.events == tables.snapshots
            || tables.bookmarks == tables.snapshots
        {
            return Err(Error::Config(format!(
                "the events, bookmarks and snapshots tables need distinct names, got {tables}"
            )));
        }
        Ok(tables)
    }

    /// The default names with a prefix: `{prefix}events`, `{prefix}bookmarks`,
    /// `{prefix}snapshots`.
    ///
    /// # Errors
    /// [`Error::Config`] when the prefixed names are not plain identifiers.
    pub fn with_prefix(prefix: &str) -> Result<Self, Error> {
        Self::new(
            format!("{prefix}events"),
            format!("{prefix}bookmarks"),
            format!("{prefix}snapshots"),
        )
    }

    /// The events table.
    pub fn events(&self) -> &str {
        &self.events
    }

    /// The bookmarks table.
    pub fn bookmarks(&self) -> &str {
        &self.bookmarks
    }

    /// The snapshots table.
    pub fn snapshots(&self) -> &str {
        &self.snapshots
    }

    /// Fills the placeholders of a SQL template: `{events}`, `{bookmarks}` and `{snapshots}`
    /// become the table names (already validated, so safe to splice).
    pub(crate) fn render(&self, template: &str) -> String {
        template
            .replace("{events}", &self.events)
            .replace("{bookmarks}", &self.bookmarks)
            .replace("{snapshots}", &self.snapshots)
    }
}

impl fmt::Display for Tables {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "events `{}`, bookmarks `{}`, snapshots `{}`",
            self.events, self.bookmarks, self.snapshots
        )
    }
}

fn validate_identifier(name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let starts_well = chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !starts_well || !rest_ok {
        return Err(Error::Config(format!(
            "table name `{name}` is not a plain SQL identifier \
             (an ASCII letter or `_`, then letters, digits or `_`)"
        )));
    }
    if name.len() > MAX_TABLE_NAME {
        return Err(Error::Config(format!(
            "table name `{name}` is longer than {MAX_TABLE_NAME} characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_identifiers() {
        let tables = Tables::new("ev_1", "_marks", "Snaps").unwrap();
        assert_eq!(
            (tables.events(), tables.bookmarks(), tables.snapshots()),
            ("ev_1", "_marks", "Snaps")
        );
        assert_eq!(
            tables.render("{events} {bookmarks} {snapshots}_x"),
            "ev_1 _marks Snaps_x"
        );
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "1events",
            "events;",
            "ev ents",
            "\"events\"",
            "`events`",
            "évents",
            "schema.events",
            "events--",
            &"e".repeat(MAX_TABLE_NAME + 1),
        ] {
            let error = Tables::new(bad, "bookmarks", "snapshots").unwrap_err();
            assert!(matches!(error, Error::Config(_)), "{bad:?} gave {error}");
        }
        assert!(Tables::new("same", "same", "snapshots").is_err());
        assert!(Tables::with_prefix("x-").is_err());
    }
}
