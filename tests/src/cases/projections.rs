//! Transactional projections: the model's writes through the store's transaction commit with
//! the bookmark, and a failing event's writes are rolled back.

use std::sync::{Arc, Mutex};

use evtstore::{Cursor, Domain, Error, EventHandler, HandlerOptions, Store};

use crate::ReadEvents;
use crate::cases::handlers::create_users;
use crate::domain::{UserCommand, UserCommands, UserEvent};
use crate::projection::{ProjectionStore, Row, Table, TableModel};

async fn table_model<S: ProjectionStore>(
    domain: &Domain<S>,
    model: TableModel,
    options: HandlerOptions,
) -> EventHandler<S, TableModel> {
    domain.store().create_table(&model.table).await;
    domain
        .handler("table", model)
        .project::<UserEvent>()
        .options(options)
        .build()
}

/// The rows every event of the users stream should leave, by position.
async fn expected_rows<S: Store>(store: &S, except: &[&str]) -> Vec<Row> {
    let events = store
        .read_events(&["users"], Cursor::START, 1000)
        .await
        .unwrap();
    events
        .into_iter()
        .filter(|event| !except.contains(&event.aggregate_id.as_str()))
        .map(|event| (event.cursor.position, event.aggregate_id))
        .collect()
}

/// A transactional projection's rows and bookmark are committed together: each event once,
/// and a second run adds nothing.
pub async fn projection_commits_rows_with_bookmark<S: ProjectionStore>(store: S) {
    let domain = Domain::new(store.clone());
    create_users(&domain, &["a", "b"]).await;
    let users = domain.commands(UserCommands::default());
    users.execute("a", &UserCommand::Disable).await.unwrap();
    let model = table_model(
        &domain,
        TableModel::new(Table::new("projected")),
        HandlerOptions::default(),
    )
    .await;
    assert_eq!(model.run_once().await.unwrap(), 3);
    let expected = expected_rows(&store, &[]).await;
    assert_eq!(store.rows(&model.model().table).await, expected);
    assert_eq!(
        store.bookmark("table").await.unwrap(),
        Some(store.last_cursor(&["users"]).await.unwrap())
    );
    assert_eq!(model.run_once().await.unwrap(), 0);
    create_users(&domain, &["c"]).await;
    assert_eq!(model.run_once().await.unwrap(), 1);
    assert_eq!(
        store.rows(&model.model().table).await,
        expected_rows(&store, &[]).await
    );
}

/// A failing event rolls back its own writes and stops the handler just before it: the
/// events before it are kept with their bookmark, and a run again writes nothing twice.
pub async fn failed_projection_event_rolls_back_its_writes<S: ProjectionStore>(store: S) {
    let domain = Domain::new(store.clone());
    create_users(&domain, &["a", "bad", "c"]).await;
    let model = TableModel {
        table: Table::new("projected"),
        fail_on: Some("bad".to_owned()),
    };
    let model = table_model(&domain, model, HandlerOptions::default()).await;
    for _ in 0..2 {
        assert!(matches!(model.run_once().await, Err(Error::Handler { .. })));
        let rows = store.rows(&model.model().table).await;
        assert_eq!(rows, expected_rows(&store, &["bad", "c"]).await);
    }
    let first = store
        .read_events(&["users"], Cursor::START, 1)
        .await
        .unwrap()[0]
        .cursor;
    assert_eq!(store.bookmark("table").await.unwrap(), Some(first));
}

/// Under `continue_on_error` a failing event is rolled back alone (to a savepoint) and
/// reported; the rest of the page commits, and the bookmark moves past it.
pub async fn continue_on_error_rolls_back_the_failing_event_alone<S: ProjectionStore>(store: S) {
    let domain = Domain::new(store.clone());
    create_users(&domain, &["a", "bad", "c"]).await;
    let reported = Arc::new(Mutex::new(Vec::new()));
    let reports = Arc::clone(&reported);
    let table = Table::new("projected");
    store.create_table(&table).await;
    let model = domain
        .handler(
            "table",
            TableModel {
                table,
                fail_on: Some("bad".to_owned()),
            },
        )
        .project::<UserEvent>()
        .options(HandlerOptions {
            continue_on_error: true,
            ..HandlerOptions::default()
        })
        .on_error(move |error| reports.lock().unwrap().push(error.to_string()))
        .build();
    assert_eq!(model.run_once().await.unwrap(), 2);
    assert_eq!(
        store.rows(&model.model().table).await,
        expected_rows(&store, &["bad"]).await
    );
    let reported = reported.lock().unwrap().clone();
    assert_eq!(reported.len(), 1, "{reported:?}");
    assert!(reported[0].contains("bad is refused"), "{reported:?}");
    assert_eq!(
        store.bookmark("table").await.unwrap(),
        Some(store.last_cursor(&["users"]).await.unwrap())
    );
}
