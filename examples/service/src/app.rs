//! The running service: the store, the command sets, and the projections started in the
//! background; and how it stops.

use std::sync::Arc;
use std::time::Duration;

use evtstore::{
    Commands, Domain, DomainOptions, Error, EventHandler, HandlerHandle, HandlerStatus, Store,
};
use evtstore_sqlx::SqlStore;

use crate::config::Config;
use crate::domain::{PostCommands, PostEvent, UserCommands, UserEvent};
use crate::read_model::{PostsProjection, ReadModel, UserStatsProjection, create_tables};

/// How long a projection waits after a failure before it tries again: short, so that it is
/// back soon after a database outage; an event it cannot handle fails again each time, loudly.
const ERROR_BACKOFF: Duration = Duration::from_secs(1);

/// What every request handler shares.
#[derive(Debug)]
pub struct App {
    /// Events, bookmarks and the read models' tables, in one database: a projection's writes
    /// and its bookmark commit together.
    pub store: SqlStore,
    /// Executes user commands with the request's metadata.
    pub users: Commands<SqlStore, UserCommands>,
    /// Executes post commands; they load the author through the same domain.
    pub posts: Commands<SqlStore, PostCommands<SqlStore>>,
    /// Keeps `service_posts`; every process builds it, one runs it at a time.
    pub posts_projection: EventHandler<SqlStore, PostsProjection>,
    /// Keeps `service_users`; every process builds it, one runs it at a time.
    pub user_stats_projection: EventHandler<SqlStore, UserStatsProjection>,
    /// What commands wait for and `/health` reports, one per projection.
    pub read_models: Vec<ReadModel>,
}

impl App {
    /// Connects, migrates the store and the read models' tables, and builds the projections
    /// (not yet started: [`Service::start`]).
    ///
    /// # Errors
    /// The store's errors.
    pub async fn connect(config: &Config) -> Result<Self, Error> {
        let store = evtstore_sqlx::connect(&config.database_url).await?;
        // Every process migrates at start; on an up-to-date schema it only reads the catalog.
        store.migrate().await?;
        create_tables(&store)
            .await
            .map_err(|error| Error::database("creating the read models' tables", error))?;
        let options = DomainOptions {
            retries: config.command_retries,
            ..DomainOptions::default()
        };
        let domain = Domain::with_options(store.clone(), options);

        let posts_model = ReadModel::new("posts");
        let user_stats_model = ReadModel::new("user-stats");
        let posts_projection = domain
            .handler(posts_model.name, PostsProjection)
            .project::<PostEvent>()
            .lease(config.lease)
            .error_backoff(ERROR_BACKOFF)
            .after_batch(posts_model.after_batch())
            .on_error(posts_model.on_error())
            .build();
        let user_stats_projection = domain
            .handler(user_stats_model.name, UserStatsProjection)
            .project::<UserEvent>()
            .project::<PostEvent>()
            .lease(config.lease)
            .error_backoff(ERROR_BACKOFF)
            .after_batch(user_stats_model.after_batch())
            .on_error(user_stats_model.on_error())
            .build();
        Ok(App {
            users: domain.commands(UserCommands),
            posts: domain.commands(PostCommands {
                domain: domain.clone(),
            }),
            store,
            posts_projection,
            user_stats_projection,
            read_models: vec![posts_model, user_stats_model],
        })
    }

    /// The read model named `name`.
    #[must_use]
    pub fn read_model(&self, name: &str) -> Option<&ReadModel> {
        self.read_models.iter().find(|model| model.name == name)
    }

    /// The streams the projection of the read model `name` follows, as registered with it;
    /// `None` for a read model this app does not have.
    #[must_use]
    pub fn read_model_streams(&self, name: &str) -> Option<&[&'static str]> {
        if name == self.posts_projection.bookmark() {
            Some(self.posts_projection.streams())
        } else if name == self.user_stats_projection.bookmark() {
            Some(self.user_stats_projection.streams())
        } else {
            None
        }
    }

    /// Read-your-writes: waits, for at most `timeout`, until the read model `name` has handled
    /// every event of `stream` appended so far (read after a command, the command's events
    /// included; others appended since may make the wait longer, never shorter). Returns
    /// whether it has, and `false` for a read model this app does not have.
    ///
    /// The wait works whichever process runs the projection: it reads the projection's stored
    /// bookmark, which commits with its writes ([`EventHandler::wait_until_handled`]).
    ///
    /// # Errors
    /// The store's errors.
    pub async fn wait_for(
        &self,
        name: &str,
        stream: &str,
        timeout: Duration,
    ) -> Result<bool, Error> {
        let written = self.store.last_cursor(&[stream]).await?;
        tracing::debug!(read_model = name, stream, "waiting for the read model");
        if name == self.posts_projection.bookmark() {
            self.posts_projection
                .wait_until_handled(written, timeout)
                .await
        } else if name == self.user_stats_projection.bookmark() {
            self.user_stats_projection
                .wait_until_handled(written, timeout)
                .await
        } else {
            Ok(false)
        }
    }

    /// Each projection's lag, claim and last activity, with whether this process runs it.
    ///
    /// # Errors
    /// The store's errors.
    pub async fn statuses(&self) -> Result<Vec<(HandlerStatus, bool)>, Error> {
        let mut statuses = Vec::new();
        for (status, owner) in self
            .posts_projection
            .status()
            .await?
            .into_iter()
            .map(|status| (status, self.posts_projection.owner()))
            .chain(
                self.user_stats_projection
                    .status()
                    .await?
                    .into_iter()
                    .map(|status| (status, self.user_stats_projection.owner())),
            )
        {
            let runs_here = status
                .holder
                .as_ref()
                .is_some_and(|holder| holder.owner == owner);
            statuses.push((status, runs_here));
        }
        Ok(statuses)
    }
}

/// The app with its projections running.
#[derive(Debug)]
pub struct Service {
    /// The app the routes share.
    pub app: Arc<App>,
    handles: Vec<HandlerHandle>,
}

impl Service {
    /// Starts the projections. Every process starts them; the claims let one process run
    /// each at a time, and another take over when it stops or dies.
    #[must_use]
    pub fn start(app: App) -> Self {
        let handles = vec![
            app.posts_projection.start(),
            app.user_stats_projection.start(),
        ];
        Service {
            app: Arc::new(app),
            handles,
        }
    }

    /// Stops the projections: each finishes its batch, stores its bookmark, and lets its
    /// claim go, so that another process takes over at once.
    pub async fn stop(self) {
        // Both at once: each waits for its own batch.
        futures_util::future::join_all(self.handles.into_iter().map(HandlerHandle::stop)).await;
    }
}
