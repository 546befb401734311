//! `cargo run -p service`: serves the users/posts API on 127.0.0.1 (see the crate docs).

use std::process::ExitCode;

use service::app::{App, Service};
use service::config::Config;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stdout)
        .init();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(message) => {
            tracing::error!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), String> {
    let app = App::connect(&config)
        .await
        .map_err(|error| format!("cannot start on {}: {error}", config.database_url))?;
    let listener = TcpListener::bind(("127.0.0.1", config.port))
        .await
        .map_err(|error| format!("cannot listen on 127.0.0.1:{}: {error}", config.port))?;
    let address = listener
        .local_addr()
        .map_err(|error| format!("no local address: {error}"))?;
    let service = Service::start(app);
    tracing::info!(database = %config.database_url, "listening on http://{address}");
    let served = axum::serve(listener, service::http::router(service.app.clone()))
        .with_graceful_shutdown(shutdown_signal())
        .await;
    // The server has finished the requests in flight; now the projections end their batch
    // and hand their claims over.
    tracing::info!("stopping the projections");
    service.stop().await;
    tracing::info!("stopped");
    served.map_err(|error| format!("serving failed: {error}"))
}

/// Resolves on Ctrl-C or SIGTERM (what a deploy sends).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}
