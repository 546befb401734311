//! Where the time of one-event commands on MariaDB/MySQL goes (`EVTSTORE_BENCH_MYSQL_STATUS`):
//! the stores against the store's append statement sent through plain sqlx, other ways to
//! write it, the baseline, and a plain `INSERT .. VALUES`, with the server's status counters
//! per command. Printed on stderr, not in the result table.

use std::time::Duration;

use evtstore_sqlx::MySqlStore;
use evtstore_sqlx::sqlx::{self, Row};

use crate::counter::added_json;
use crate::measure::{fresh, per_second, scale};
use crate::mysql::MySqlBaseline;
use crate::now_millis;
use crate::scenarios::{baseline_commands, store_commands};

/// Rounds of [`profile`]: more, shorter runs than the scenarios', as the machine's load moves.
const ROUNDS: usize = 6;

/// How one-event commands on 8 tasks are spent: the stores, the store's append statement sent
/// through plain sqlx, other ways to write it, the baseline and a plain `INSERT .. VALUES`
/// (which takes no table-level AUTO-INC lock for the statement), 2,000 commands each, the best
/// of [`ROUNDS`] alternating runs, with the server's counters per command around the first
/// run. On stderr.
pub(crate) async fn profile(
    admin: &mut sqlx::MySqlConnection,
    [store, over_pool, legacy]: [&MySqlStore; 3],
    baseline: &MySqlBaseline,
) {
    let commands = 2000 * scale();
    let names = [
        "store",
        "store over a given pool",
        "first release",
        "the store's append statement through plain sqlx",
        "the same without the derived table (FROM DUAL)",
        "INSERT .. SELECT from the previous event's row (FROM DUAL for the first)",
        "baseline INSERT .. SELECT MAX(version) + 1",
        "INSERT .. VALUES, versions kept by the tasks",
    ];
    let mut best = [Duration::MAX; 8];
    for round in 0..ROUNDS {
        for (variant, name) in names.iter().enumerate() {
            let counters = Counters::read(admin).await;
            let pool = &baseline.0;
            let time = match variant {
                0 => store_commands(store, 8, commands).await,
                1 => store_commands(over_pool, 8, commands).await,
                2 => store_commands(legacy, 8, commands).await,
                3 => statement_commands(pool, Statement::StoreAppend, commands).await,
                4 => statement_commands(pool, Statement::Dual, commands).await,
                5 => statement_commands(pool, Statement::FromPrevious, commands).await,
                6 => baseline_commands(baseline, 8, commands).await,
                _ => statement_commands(pool, Statement::Values, commands).await,
            };
            if round == 0 {
                Counters::read(admin)
                    .await
                    .since(&counters)
                    .print(name, commands);
            }
            best[variant] = best[variant].min(time);
        }
    }
    for (name, time) in names.iter().zip(best) {
        eprintln!(
            "{name}: {:.0}/s, 8 tasks, best of {ROUNDS}",
            per_second(commands, time)
        );
    }
}

/// A one-event append written in one of several ways, for [`profile`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Statement {
    /// The store's append of one event (`src/sql/mysql/append.sql` for one row).
    StoreAppend,
    /// The same without the derived table of rows and its ORDER BY.
    Dual,
    /// The event selected from the previous event's row (a lookup of the whole unique key),
    /// or from DUAL for the first version: still an `INSERT .. SELECT`, which holds the AUTO-INC
    /// lock for the statement.
    FromPrevious,
    /// A plain `INSERT .. VALUES`, which does not.
    Values,
}

impl Statement {
    fn text(self, version: i64) -> &'static str {
        match self {
            Statement::StoreAppend => {
                "INSERT INTO `events` (`stream`, `aggregate_id`, `version`, `timestamp`, \
                   `event`, `metadata`) \
                 SELECT ?, ?, r.v, FROM_UNIXTIME(? / 1000), r.e, ? \
                 FROM (SELECT ? AS v, ? AS e) AS r \
                 WHERE ? = 1 OR EXISTS (SELECT 1 FROM `events` WHERE `stream` = ? \
                   AND `aggregate_id` = ? AND `version` = ?) \
                 ORDER BY r.v"
            }
            Statement::Dual => {
                "INSERT INTO `events` (`stream`, `aggregate_id`, `version`, `timestamp`, \
                   `event`, `metadata`) \
                 SELECT ?, ?, ?, FROM_UNIXTIME(? / 1000), ?, ? FROM DUAL \
                 WHERE ? = 1 OR EXISTS (SELECT 1 FROM `events` WHERE `stream` = ? \
                   AND `aggregate_id` = ? AND `version` = ?)"
            }
            Statement::FromPrevious if version == 1 => {
                "INSERT INTO `events` (`stream`, `aggregate_id`, `version`, `timestamp`, \
                   `event`, `metadata`) \
                 SELECT ?, ?, ?, FROM_UNIXTIME(? / 1000), ?, ? FROM DUAL"
            }
            Statement::FromPrevious => {
                "INSERT INTO `events` (`stream`, `aggregate_id`, `version`, `timestamp`, \
                   `event`, `metadata`) \
                 SELECT ?, ?, ?, FROM_UNIXTIME(? / 1000), ?, ? FROM `events` \
                 WHERE `stream` = ? AND `aggregate_id` = ? AND `version` = ?"
            }
            Statement::Values => {
                "INSERT INTO `events` (`stream`, `aggregate_id`, `version`, `timestamp`, \
                   `event`, `metadata`) \
                 VALUES (?, ?, ?, FROM_UNIXTIME(? / 1000), ?, ?)"
            }
        }
    }

    /// Sends the append of `version` (the task counts its aggregate's versions).
    async fn append(self, pool: &sqlx::MySqlPool, id: &str, version: i64, json: String) -> u64 {
        let text = self.text(version);
        let query = if self == Statement::StoreAppend {
            sqlx::query(text)
                .bind("counters")
                .bind(id)
                .bind(now_millis())
                .bind(None::<&str>)
                .bind(version)
                .bind(json)
        } else {
            sqlx::query(text)
                .bind("counters")
                .bind(id)
                .bind(version)
                .bind(now_millis())
                .bind(json)
                .bind(None::<&str>)
        };
        let query = match self {
            Statement::StoreAppend | Statement::Dual => query.bind(version),
            _ => query,
        };
        let query = match self {
            Statement::Values => query,
            Statement::FromPrevious if version == 1 => query,
            _ => query.bind("counters").bind(id).bind(version - 1),
        };
        query
            .execute(pool)
            .await
            .expect("statement")
            .rows_affected()
    }
}

/// `commands` one-event commands on 8 tasks through plain sqlx, each task on an aggregate of
/// its own whose versions it counts.
async fn statement_commands(
    pool: &sqlx::MySqlPool,
    statement: Statement,
    commands: usize,
) -> Duration {
    let tasks = 8;
    let prefix = fresh("statement");
    let start = std::time::Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let pool = pool.clone();
            let id = format!("{prefix}-{task}");
            tokio::spawn(async move {
                for n in 0..commands / tasks {
                    let json = added_json(n);
                    let appended = statement.append(&pool, &id, n as i64 + 1, json).await;
                    assert_eq!(appended, 1);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("task");
    }
    start.elapsed()
}

/// The server's counters that tell what one-event commands cost it.
const STATUS: &[&str] = &[
    "Questions",
    "Com_insert",
    "Com_insert_select",
    "Com_select",
    "Com_update",
    "Com_set_option",
    "Com_begin",
    "Com_commit",
    "Innodb_log_writes",
    "Innodb_os_log_fsyncs",
    "Innodb_row_lock_waits",
    "Innodb_row_lock_time",
    "Table_locks_waited",
];

/// `SHOW GLOBAL STATUS` values of [`STATUS`]. Global: other clients of the server count too.
#[derive(Debug)]
struct Counters(Vec<(String, i64)>);

impl Counters {
    async fn read(conn: &mut sqlx::MySqlConnection) -> Self {
        let rows = sqlx::query("SHOW GLOBAL STATUS")
            .fetch_all(&mut *conn)
            .await
            .expect("SHOW GLOBAL STATUS");
        let mut values = Vec::new();
        for row in rows {
            let name: String = row.get(0);
            if STATUS
                .iter()
                .any(|wanted| wanted.eq_ignore_ascii_case(&name))
            {
                let value: String = row.get(1);
                values.push((name, value.parse().unwrap_or(0)));
            }
        }
        Counters(values)
    }

    fn since(&self, before: &Counters) -> Counters {
        Counters(
            self.0
                .iter()
                .map(|(name, value)| {
                    let old = before
                        .0
                        .iter()
                        .find(|(old, _)| old == name)
                        .map_or(0, |(_, v)| *v);
                    (name.clone(), value - old)
                })
                .collect(),
        )
    }

    /// Prints each counter per command, on stderr.
    fn print(&self, name: &str, commands: usize) {
        let per_command: Vec<String> = self
            .0
            .iter()
            .map(|(counter, value)| format!("{counter} {:.2}", *value as f64 / commands as f64))
            .collect();
        eprintln!("{name}, 8 tasks, per command: {}", per_command.join(", "));
    }
}
