//! Rows no evtstore writer makes, planted as another program (or a hand-written migration)
//! could leave them: a handler reports each one like a failing event and never lets it hide
//! the events around it; a load refuses an aggregate whose versions are not 1..n.

use std::sync::{Arc, Mutex};

use evtstore::{Cursor, Domain, Error, HandlerOptions, MemoryStore, Replayed, Snapshot, Store};
use evtstore_sqlx::{MySqlStore, PgStore, SqliteStore};

use crate::cases::append_raw;
use crate::create_user;
use crate::domain::{PostsModel, UserCommands, UserEvent};

/// A store that can hold rows its own writers never make, and a way to plant them.
pub trait PlantRows: Store {
    /// Puts a row of `stream`/`aggregate_id` with `version` and the event text `event` at the
    /// next position, bypassing every check; `None` when this store cannot hold such a row
    /// (the memory store keeps only whole histories).
    fn plant_row(
        &self,
        aggregate_id: &str,
        version: i64,
        event: &str,
    ) -> impl Future<Output = Option<Cursor>> + Send;

    /// Puts a row at the next position that cannot be read at all (a version below 1): every
    /// store can hold one of these.
    fn plant_unreadable(&self, aggregate_id: &str) -> impl Future<Output = Cursor> + Send;
}

impl PlantRows for MemoryStore {
    async fn plant_row(&self, _: &str, _: i64, _: &str) -> Option<Cursor> {
        None
    }

    async fn plant_unreadable(&self, aggregate_id: &str) -> Cursor {
        MemoryStore::plant_unreadable(self, "users", aggregate_id, "its version is 0")
    }
}

const CREATED: &str = r#"{"type":"created","name":"P"}"#;

/// The last row's cursor of the users stream: where a planted row landed.
async fn last<S: Store>(store: &S) -> Cursor {
    store.last_cursor(&["users"]).await.unwrap()
}

/// `PlantRows` for a SQL store: `$insert` plants a users row from (aggregate id, version,
/// event), with the backend's placeholders and timestamp.
macro_rules! plant_rows_with_sql {
    ($store:ty, $insert:literal) => {
        impl PlantRows for $store {
            async fn plant_row(
                &self,
                aggregate_id: &str,
                version: i64,
                event: &str,
            ) -> Option<Cursor> {
                evtstore_sqlx::sqlx::query($insert)
                    .bind(aggregate_id)
                    .bind(version)
                    .bind(event)
                    .execute(self.pool())
                    .await
                    .expect("cannot plant a row");
                Some(last(self).await)
            }

            async fn plant_unreadable(&self, aggregate_id: &str) -> Cursor {
                self.plant_row(aggregate_id, 0, CREATED).await.unwrap()
            }
        }
    };
}

plant_rows_with_sql!(
    SqliteStore,
    "INSERT INTO events (stream, aggregate_id, version, timestamp, event) \
     VALUES ('users', ?, ?, 0, ?)"
);
plant_rows_with_sql!(
    PgStore,
    "INSERT INTO events (stream, aggregate_id, version, timestamp, event) \
     VALUES ('users', $1, $2, now(), $3)"
);
plant_rows_with_sql!(
    MySqlStore,
    "INSERT INTO events (stream, aggregate_id, version, timestamp, event) \
     VALUES ('users', ?, ?, NOW(3), ?)"
);

/// Unreadable rows between good events: a strict handler handles the events before the first
/// one and stops with an error naming its position (bookmark before it); a handler with
/// `continue_on_error` reports each and handles every good event around them, in one page.
pub async fn unreadable_rows_are_reported_and_skipped<S: PlantRows>(store: S) {
    append_raw(&store, "users", "a", 1, r#"{"type":"created","name":"A"}"#)
        .await
        .unwrap();
    let first_bad = store.plant_unreadable("bad1").await;
    append_raw(&store, "users", "b", 1, r#"{"type":"created","name":"B"}"#)
        .await
        .unwrap();
    let second_bad = store.plant_unreadable("bad2").await;
    append_raw(&store, "users", "c", 1, r#"{"type":"created","name":"C"}"#)
        .await
        .unwrap();

    let rows = store.read(&["users"], Cursor::START, 10).await.unwrap();
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert!(rows[1].is_err() && rows[3].is_err(), "{rows:?}");

    let domain = Domain::new(store.clone());
    let strict = domain
        .handler("strict", PostsModel::default())
        .stream::<UserEvent>()
        .build();
    match strict.run_once().await.unwrap_err() {
        Error::Handler {
            position,
            aggregate_id,
            ..
        } => assert_eq!(
            (position, aggregate_id.as_str()),
            (first_bad.position, "bad1")
        ),
        other => panic!("expected a handler error, got {other:?}"),
    }
    assert_eq!(strict.model().seen_ids(), ["a"]);
    let bookmark = store.bookmark("strict").await.unwrap().unwrap();
    assert!(bookmark < first_bad, "{bookmark:?} {first_bad:?}");

    let reported = Arc::new(Mutex::new(Vec::new()));
    let reports = Arc::clone(&reported);
    let lenient = domain
        .handler("lenient", PostsModel::default())
        .stream::<UserEvent>()
        .options(HandlerOptions {
            continue_on_error: true,
            ..HandlerOptions::default()
        })
        .on_error(move |error| {
            if let Error::Handler { position, .. } = error {
                reports.lock().unwrap().push(*position);
            }
        })
        .build();
    assert_eq!(lenient.run_once().await.unwrap(), 3);
    assert_eq!(lenient.model().seen_ids(), ["a", "b", "c"]);
    assert_eq!(
        *reported.lock().unwrap(),
        [first_bad.position, second_bad.position]
    );
    // The bookmark is past everything, the unreadable rows included: nothing is read again.
    assert_eq!(lenient.run_once().await.unwrap(), 0);
}

/// A history whose stored versions are not 1..n is refused by loads and commands with an
/// error that says so, instead of being folded without the odd row (a version of -1 used to
/// make every command on the aggregate fail with "version 1 already exists").
pub async fn broken_history_is_refused<S: PlantRows>(store: S) {
    let Some(_) = store.plant_row("minus", -1, CREATED).await else {
        // This store cannot hold a broken history.
        return;
    };
    let domain = Domain::new(store.clone());
    let error = domain.load::<UserEvent>("minus").await.unwrap_err();
    assert!(
        matches!(&error, Error::BrokenHistory { aggregate_id, .. } if aggregate_id == "minus")
            && error.to_string().contains("-1"),
        "{error}"
    );
    let users = domain.commands(UserCommands::default());
    let error = users.execute("minus", &create_user("M")).await.unwrap_err();
    assert!(matches!(error, Error::BrokenHistory { .. }), "{error}");

    // A gap: versions 1 and 3. The error names the row's position: the load reads without
    // positions (`Store::replay_without_positions`) and then again with them for the error.
    append_raw(&store, "users", "gap", 1, CREATED)
        .await
        .unwrap();
    let planted = store.plant_row("gap", 3, r#"{"type":"disabled"}"#).await;
    let error = Domain::new(store.clone())
        .load::<UserEvent>("gap")
        .await
        .unwrap_err();
    let at = format!("version 3 at position {}", planted.unwrap().position);
    assert!(
        matches!(error, Error::BrokenHistory { .. }) && error.to_string().contains(&at),
        "{error}"
    );
    // A history read by `history` is checked the same way.
    let error = domain.history::<UserEvent>("gap").await.unwrap_err();
    assert!(matches!(error, Error::BrokenHistory { .. }), "{error}");
}

/// What a replay hands over, as (version, text) pairs, or its error.
async fn replayed<S: Store>(
    store: &S,
    aggregate_id: &str,
    after: u64,
    positions: bool,
) -> Result<Vec<(u64, String)>, Error> {
    let mut seen = Vec::new();
    let visit = |item: Replayed<'_>| {
        match item {
            Replayed::Event {
                version,
                position,
                event,
            } => {
                assert!(
                    !positions || position.is_some_and(|position| position > 0),
                    "`replay` hands every event over with its position: {position:?}"
                );
                seen.push((version, event.to_owned()));
            }
            Replayed::Snapshot { .. } => panic!("no snapshot was asked for"),
        }
        Ok(())
    };
    if positions {
        store
            .replay("users", aggregate_id, after, None, visit)
            .await?;
    } else {
        store
            .replay_without_positions("users", aggregate_id, after, None, visit)
            .await?;
    }
    Ok(seen)
}

/// `replay_without_positions` hands over what `replay` does, with the stored versions: a
/// store that reads the events without their versions must not number a history with a gap
/// as if it were whole, nor fold rows `replay` refuses.
pub async fn replay_without_positions_keeps_versions<S: PlantRows>(store: S) {
    for version in 1..=3 {
        let event = format!(r#"{{"type":"created","name":"W{version}"}}"#);
        append_raw(&store, "users", "whole", version, &event)
            .await
            .unwrap();
    }
    for after in [0, 1, 3, 9] {
        let with = replayed(&store, "whole", after, true).await.unwrap();
        let without = replayed(&store, "whole", after, false).await.unwrap();
        let versions: Vec<u64> = with.iter().map(|(version, _)| *version).collect();
        assert_eq!(versions, (after + 1..=3).collect::<Vec<_>>());
        assert_eq!(with, without, "after version {after}");
    }
    assert_eq!(replayed(&store, "nobody", 0, false).await.unwrap(), []);

    if store.plant_row("gap", 1, CREATED).await.is_none() {
        // This store cannot hold a broken history.
        return;
    }
    store.plant_row("gap", 3, CREATED).await;
    store.plant_row("gap", 4, CREATED).await;
    for after in [0, 1, 2] {
        let with = replayed(&store, "gap", after, true).await.unwrap();
        let without = replayed(&store, "gap", after, false).await.unwrap();
        assert_eq!(with, without, "after version {after}");
    }
    // Rows `replay` refuses (a version below 1) are refused without positions too.
    store.plant_row("low", 0, CREATED).await;
    store.plant_row("low", 1, CREATED).await;
    store.plant_row("low", 2, CREATED).await;
    assert!(replayed(&store, "low", 0, true).await.is_err());
    let error = replayed(&store, "low", 0, false).await.unwrap_err();
    assert!(matches!(error, Error::BrokenHistory { .. }), "{error}");
    // After version 1 neither reads the row below 1.
    let with = replayed(&store, "low", 1, true).await.unwrap();
    assert_eq!(with, replayed(&store, "low", 1, false).await.unwrap());
    assert_eq!(with.len(), 1);
    // Nor after a snapshot at version 0: the events after it are those above 0.
    let snapshot = Snapshot {
        version: 0,
        tag: "v1".into(),
        state: "{}".into(),
    };
    store
        .save_snapshot("users", "low", &snapshot)
        .await
        .unwrap();
    for positions in [true, false] {
        let mut seen = Vec::new();
        let visit = |item: Replayed<'_>| {
            seen.push(match item {
                Replayed::Snapshot { version, .. } => ("snapshot", version),
                Replayed::Event { version, .. } => ("event", version),
            });
            Ok(())
        };
        let replayed = if positions {
            store.replay("users", "low", 0, Some("v1"), visit).await
        } else {
            (store.replay_without_positions("users", "low", 0, Some("v1"), visit)).await
        };
        replayed.unwrap_or_else(|error| panic!("positions {positions}: {error}"));
        assert_eq!(seen, [("snapshot", 0), ("event", 1), ("event", 2)]);
    }
}
