//! Wake-ups across processes on PostgreSQL: a connection that `LISTEN`s on the channels the
//! tables' triggers notify (see `migrate.sql`): `evtstore_<events>` for every committed
//! append, which wakes the store's handlers, and `evtstore_<bookmarks>` for every claim let
//! go, which wakes its runners standing by. Both count for appends and releases of any
//! process.
//!
//! A notification is a hint (see [`evtstore::Wakeups`]): one lost while the connection was
//! down costs nothing but time, because every (re)connection wakes everyone once, and a
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

/// One table whose trigger notifies, and whom its notifications wake.
#[derive(Clone, Debug)]
pub(super) struct Watched {
    table: String,
    wakeups: Arc<Wakeups>,
}

impl Watched {
    pub(super) fn new(table: &str, wakeups: &Arc<Wakeups>) -> Self {
        Watched {
            table: table.to_owned(),
            wakeups: Arc::clone(wakeups),
        }
    }

    fn channel(&self) -> String {
        channel(&self.table)
    }
}

impl Listener {
    /// Starts the task, once; does nothing outside a tokio runtime (handlers then poll).
    pub(super) fn start(&self, pool: &PgPool, watched: [Watched; 2]) {
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
        runtime.spawn(listen(pool.clone(), watched, receiver));
    }
}

/// The channel a table's trigger notifies.
pub(super) fn channel(table: &str) -> String {
    format!("evtstore_{table}")
}

async fn listen(pool: PgPool, watched: [Watched; 2], mut stop: oneshot::Receiver<()>) {
    let wake_all = || watched.iter().for_each(|watched| watched.wakeups.notify());
    loop {
        let connected = tokio::select! {
            connected = connect(&pool, &watched) => connected,
            _ = &mut stop => return,
        };
        match connected {
            Ok((mut listener, qualified)) => {
                // Whatever happened while no listener was connected: look once.
                wake_all();
                loop {
                    let received = tokio::select! {
                        received = listener.try_recv() => received,
                        _ = &mut stop => return,
                    };
                    match received {
                        Ok(Some(notification)) => {
                            for (watched, qualified) in watched.iter().zip(&qualified) {
                                // Another schema's table of the same name notifies the same
                                // channel: its payload names its schema.
                                if notification.channel() == watched.channel()
                                    && qualified
                                        .as_deref()
                                        .is_none_or(|table| notification.payload() == table)
                                {
                                    watched.wakeups.notify();
                                }
                            }
                        }
                        Ok(None) => {
                            // The connection was lost; sqlx reconnects and listens again on
                            // the next receive. Notifications in between are lost: look once.
                            tracing::warn!("event listener connection lost; reconnecting");
                            wake_all();
                        }
                        Err(error) => {
                            tracing::warn!(%error, "event listener failed; reconnecting");
                            break;
                        }
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for appends; handlers poll meanwhile");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(RECONNECT_PAUSE) => {}
            _ = &mut stop => return,
        }
    }
}

/// A listening connection, and the schema-qualified name of each watched table (as its
/// trigger sends it), when it could be resolved.
async fn connect(
    pool: &PgPool,
    watched: &[Watched; 2],
) -> Result<(PgListener, [Option<String>; 2]), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    let mut qualified = [None, None];
    for (slot, watched) in qualified.iter_mut().zip(watched) {
        let schema: Option<String> = sqlx::query_scalar(
            "SELECT n.nspname::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)",
        )
        .bind(format!("\"{}\"", watched.table))
        .fetch_optional(&mut listener)
        .await?;
        *slot = schema.map(|schema| format!("{schema}.{}", watched.table));
    }
    let channels: Vec<String> = watched.iter().map(Watched::channel).collect();
    listener
        .listen_all(channels.iter().map(String::as_str))
        .await?;
    Ok((listener, qualified))
}
