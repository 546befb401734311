//! Wake-ups across processes on PostgreSQL: a connection that `LISTEN`s on the channel the
//! events table's trigger notifies (`evtstore_<events>`, see `migrate.sql`), and wakes the
//! store's handlers for every append committed to this store's table by any process.
//!
//! A notification is a hint (see [`evtstore::Wakeups`]): one lost while the connection was
//! down costs nothing but time, because every (re)connection wakes the handlers once, and a
//! handler woken reads after its bookmark. A lost connection is reconnected by itself.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use evtstore::Wakeups;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::oneshot;

/// How long to wait before connecting again after a failed connection.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

/// The listener task of one store (shared by its clones): started when a handler first
/// subscribes, stopped when the last clone of the store is dropped.
#[derive(Debug, Default)]
pub(super) struct Listener {
    /// Dropping the sender (with the store) tells the task to end.
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

impl Listener {
    /// Starts the task, once; does nothing outside a tokio runtime (handlers then poll).
    pub(super) fn start(&self, pool: &PgPool, events_table: &str, wakeups: &Arc<Wakeups>) {
        let mut stop = self
            .stop
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if stop.is_some() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (sender, receiver) = oneshot::channel();
        *stop = Some(sender);
        runtime.spawn(listen(
            pool.clone(),
            events_table.to_owned(),
            Arc::clone(wakeups),
            receiver,
        ));
    }
}

/// The channel the events table's trigger notifies.
pub(super) fn channel(events_table: &str) -> String {
    format!("evtstore_{events_table}")
}

async fn listen(
    pool: PgPool,
    events_table: String,
    wakeups: Arc<Wakeups>,
    mut stop: oneshot::Receiver<()>,
) {
    let channel = channel(&events_table);
    loop {
        let connected = tokio::select! {
            connected = connect(&pool, &channel, &events_table) => connected,
            _ = &mut stop => return,
        };
        match connected {
            Ok((mut listener, table)) => {
                // Whatever was appended while no listener was connected: look once.
                wakeups.notify();
                loop {
                    let received = tokio::select! {
                        received = listener.try_recv() => received,
                        _ = &mut stop => return,
                    };
                    match received {
                        // Another schema's table of the same name notifies the same channel.
                        Ok(Some(notification))
                            if table
                                .as_deref()
                                .is_some_and(|table| notification.payload() != table) => {}
                        Ok(Some(_)) => wakeups.notify(),
                        Ok(None) => {
                            // The connection was lost; sqlx reconnects and listens again on
                            // the next receive. Notifications in between are lost: look once.
                            tracing::warn!(%channel, "event listener connection lost; reconnecting");
                            wakeups.notify();
                        }
                        Err(error) => {
                            tracing::warn!(%channel, %error, "event listener failed; reconnecting");
                            break;
                        }
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%channel, %error, "cannot listen for appends; handlers poll meanwhile");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(RECONNECT_PAUSE) => {}
            _ = &mut stop => return,
        }
    }
}

/// A listening connection, and the schema-qualified name of this store's events table (as the
/// trigger sends it), when it could be resolved.
async fn connect(
    pool: &PgPool,
    channel: &str,
    events_table: &str,
) -> Result<(PgListener, Option<String>), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    let schema: Option<String> =
        sqlx::query_scalar("SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)")
            .bind(format!("\"{events_table}\""))
            .fetch_optional(&mut listener)
            .await?;
    listener.listen(channel).await?;
    Ok((
        listener,
        schema.map(|schema| format!("{schema}.{events_table}")),
    ))
}
