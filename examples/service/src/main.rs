//! `cargo run -p service`: serves the users/posts API (see the crate docs).

use std::process::ExitCode;
use std::time::Duration;

use service::app::{App, Service};
use service::config::{Config, redacted};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// How long requests in flight may take to finish after a stop signal. A deploy usually waits
/// about 30 s before it kills; the projections need the rest to hand their claims over.
const DRAIN: Duration = Duration::from_secs(20);

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
    let database = redacted(&config.database_url);
    let app = App::connect(&config)
        .await
        .map_err(|error| format!("cannot start on {database}: {error}"))?;
    let listener = TcpListener::bind((config.host, config.port))
        .await
        .map_err(|error| format!("cannot listen on {}:{}: {error}", config.host, config.port))?;
    let address = listener
        .local_addr()
        .map_err(|error| format!("no local address: {error}"))?;
    let service = Service::start(app);
    tracing::info!(%database, "listening on http://{address}");

    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, service::http::router(service.app.clone()))
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            let _ = stopping_tx.send(());
        });
    let mut server = std::pin::pin!(server.into_future());
    let served = tokio::select! {
        served = &mut server => served,
        () = async {
            // Once the signal came, the requests in flight get `DRAIN` to finish.
            if stopping_rx.await.is_ok() {
                tokio::time::sleep(DRAIN).await;
            } else {
                std::future::pending::<()>().await;
            }
        } => {
            tracing::warn!("requests still running after {DRAIN:?}: dropping them");
            Ok(())
        }
    };
    // No request is running now; the projections end their batch and hand their claims over.
    tracing::info!("stopping the projections");
    service.stop().await;
    tracing::info!("stopped");
    served.map_err(|error| format!("serving failed: {error}"))
}

/// Resolves on Ctrl-C, or SIGTERM (what a deploy sends) on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
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
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}
