//! Runs the service binary as a real process on a fresh database and talks to it over HTTP
//! on a loopback port.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use evtstore_sqlx::sqlx::{self, AssertSqlSafe, Connection};
use serde_json::Value;

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// The database servers the service tests run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

/// A name no other test of any run uses.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    format!(
        "{prefix}_{seconds}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn postgres_url() -> String {
    std::env::var("EVTSTORE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

pub fn mysql_url() -> String {
    std::env::var("EVTSTORE_TEST_MYSQL_URL").unwrap_or_else(|_| DEFAULT_MYSQL_URL.to_owned())
}

/// `url` naming another database.
pub fn with_database(url: &str, database: &str) -> String {
    let base = url.split_once('?').map_or(url, |(base, _)| base);
    let authority_start = base.find("://").map_or(0, |at| at + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{server}/{database}")
}

/// A new, empty database of `backend`: its URL and its name.
pub async fn fresh_database(backend: Backend) -> (String, String) {
    let name = unique_name("service");
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(&name);
            std::fs::create_dir_all(&dir).expect("a temporary folder");
            let path = dir.join("service.db");
            (format!("sqlite://{}?mode=rwc", path.display()), name)
        }
        Backend::Postgres => {
            let mut admin = sqlx::PgConnection::connect(&postgres_url())
                .await
                .expect("PostgreSQL answers at EVTSTORE_TEST_POSTGRES_URL");
            sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await
                .expect("a new PostgreSQL database");
            admin.close().await.ok();
            (with_database(&postgres_url(), &name), name)
        }
        Backend::MySql => {
            let mut admin = sqlx::MySqlConnection::connect(&mysql_url())
                .await
                .expect("MariaDB answers at EVTSTORE_TEST_MYSQL_URL");
            sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await
                .expect("a new MariaDB database");
            admin.close().await.ok();
            (with_database(&mysql_url(), &name), name)
        }
    }
}

/// Drops a database made by [`fresh_database`] (best effort: a leftover only takes space).
pub async fn drop_database(backend: Backend, name: &str) {
    match backend {
        Backend::Sqlite => {
            let _ = std::fs::remove_dir_all(std::env::temp_dir().join(name));
        }
        Backend::Postgres => {
            if let Ok(mut admin) = sqlx::PgConnection::connect(&postgres_url()).await {
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let _ = sqlx::query(AssertSqlSafe(sql)).execute(&mut admin).await;
                admin.close().await.ok();
            }
        }
        Backend::MySql => {
            if let Ok(mut admin) = sqlx::MySqlConnection::connect(&mysql_url()).await {
                let sql = format!("DROP DATABASE IF EXISTS {name}");
                let _ = sqlx::query(AssertSqlSafe(sql)).execute(&mut admin).await;
                admin.close().await.ok();
            }
        }
    }
}

/// A running service process. Killed (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Everything it printed so far.
    output: Arc<Mutex<Vec<String>>>,
    label: String,
}

impl Server {
    /// Starts the service with `env` (and `PORT=0`), in `dir` when given, and waits until it
    /// listens.
    pub fn start(label: &str, env: &[(&str, &str)], dir: Option<&std::path::Path>) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_service"));
        command
            .env_remove("DATABASE_URL")
            .env("PORT", "0")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        let mut child = command.spawn().expect("the service binary starts");
        let output = Arc::new(Mutex::new(Vec::new()));
        let (address_tx, address_rx) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().expect("piped stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("piped stderr")),
        ] {
            let output = Arc::clone(&output);
            let address_tx = address_tx.clone();
            let label = label.to_owned();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(rest) = line.split("listening on http://").nth(1) {
                        let address = rest.split_whitespace().next().unwrap_or("").to_owned();
                        let _ = address_tx.send(address);
                    }
                    eprintln!("[{label}] {line}");
                    output.lock().unwrap().push(line);
                }
            });
        }
        let address = match address_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "{label} did not start listening within 60 s; it printed:\n{}",
                    output.lock().unwrap().join("\n")
                );
            }
        };
        Server {
            child,
            base: format!("http://{address}"),
            output,
            label: label.to_owned(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The owner prefix of this process's claims (`pid<id>-`).
    pub fn owner_prefix(&self) -> String {
        format!("pid{}-", self.pid())
    }

    /// SIGKILL: no shutdown, no released claim.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits (at most `timeout`) for the process to end.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the service") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not stop within {timeout:?} of SIGTERM",
                self.label
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The lines it printed so far.
    pub fn output(&self) -> Vec<String> {
        self.output.lock().unwrap().clone()
    }

    /// Waits (at most `timeout`) until it has printed a line containing `pattern`.
    pub fn wait_for_line(&self, pattern: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.output().iter().any(|line| line.contains(pattern)) {
            assert!(
                Instant::now() < deadline,
                "{} printed no line with `{pattern}` within {timeout:?}",
                self.label
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP response: its status and JSON body (`Null` when the body is not JSON).
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// The `error` code of an error body.
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }
}

/// A client of one server.
#[derive(Clone, Debug)]
pub struct Api {
    client: reqwest::Client,
    pub base: String,
}

impl Api {
    pub fn new(server: &Server) -> Self {
        Api {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
            base: server.base.clone(),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.try_get(path)
            .await
            .unwrap_or_else(|error| panic!("GET {path}: {error}"))
    }

    pub async fn try_get(&self, path: &str) -> Result<Reply, reqwest::Error> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await?;
        Self::reply(response).await
    }

    /// POSTs `body` (text, sent as is) with `headers`.
    pub async fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        self.try_post(path, headers, body)
            .await
            .unwrap_or_else(|error| panic!("POST {path}: {error}"))
    }

    pub async fn try_post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<Reply, reqwest::Error> {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Self::reply(request.send().await?).await
    }

    async fn reply(response: reqwest::Response) -> Result<Reply, reqwest::Error> {
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok(Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        })
    }

    /// Polls `GET /health` until `done` holds of it, for at most `timeout`.
    pub async fn health_until(
        &self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let health = self.try_get("/health").await.ok().map(|reply| reply.body);
            if let Some(health) = &health
                && done(health)
            {
                return health.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {timeout:?}; last health: {health:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The handler entries of a health body.
pub fn handlers(health: &Value) -> Vec<Value> {
    health["handlers"].as_array().cloned().unwrap_or_default()
}

/// Whether every handler has caught up with its streams.
pub fn caught_up(health: &Value) -> bool {
    let handlers = handlers(health);
    !handlers.is_empty() && handlers.iter().all(|handler| handler["behind"] == 0)
}
