//! The emulator's PostgreSQL writes: a row per acknowledged write, keyed by the client's key, in
//! the table `twin_writes`. Connections are few and reconnected after any error, so a failover
//! behind a multi-host connection string (`host=a,b port=p1,p2 target_session_attrs=read-write`)
//! is followed to the new primary. The connection string may hold a password: it is never
//! printed; messages name the hosts only.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;
use tokio_postgres::{Client, Config, NoTls};

/// The table the emulator writes.
pub const TABLE: &str = "twin_writes";

/// A small pool of reconnecting connections.
pub struct Store {
    config: Config,
    conns: Vec<Mutex<Option<Client>>>,
    next: AtomicUsize,
    hosts: String,
}

/// One stored write.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Row {
    pub key: String,
    pub route: String,
    pub body: String,
}

fn describe_hosts(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(s) => s.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!("host={} port={}", hosts.join(","), ports.join(","))
}

impl Store {
    /// Parses the connection string (URL or `key=value` form), connects once and creates the
    /// table if needed.
    pub async fn connect(url: &str, pool: usize) -> Result<Store, String> {
        let mut config: Config = url
            .parse()
            .map_err(|e| format!("--database-url is not a PostgreSQL connection string: {e}"))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(2));
        }
        let hosts = describe_hosts(&config);
        let store = Store {
            config,
            conns: (0..pool.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            hosts,
        };
        store
            .with_client(|c| {
                Box::pin(async move {
                    c.batch_execute(&format!(
                        "CREATE TABLE IF NOT EXISTS {TABLE} (key text PRIMARY KEY, route text NOT NULL, \
                         body text NOT NULL DEFAULT '', written_at timestamptz NOT NULL DEFAULT now())"
                    ))
                    .await
                })
            })
            .await?;
        Ok(store)
    }

    /// Where the store writes (hosts and ports, no credentials).
    pub fn hosts(&self) -> &str {
        &self.hosts
    }

    async fn open(&self) -> Result<Client, String> {
        let (client, connection) = self
            .config
            .connect(NoTls)
            .await
            .map_err(|e| format!("database at {} unavailable: {e}", self.hosts))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    /// Runs `f` on a pooled connection; any error drops that connection so the next use
    /// reconnects (to whichever host is now the read-write primary).
    async fn with_client<T>(
        &self,
        f: impl for<'c> FnOnce(
            &'c Client,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, tokio_postgres::Error>> + Send + 'c>,
        >,
    ) -> Result<T, String> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.conns.len();
        let mut slot = self.conns[i].lock().await;
        if slot.as_ref().is_none_or(Client::is_closed) {
            *slot = Some(self.open().await?);
        }
        let Some(client) = slot.as_ref() else {
            return Err("no connection".into());
        };
        match f(client).await {
            Ok(v) => Ok(v),
            Err(e) => {
                *slot = None;
                Err(format!("database at {} failed: {e}", self.hosts))
            }
        }
    }

    /// Stores a write; `Ok(false)` when the key was already there (an idempotent retry).
    pub async fn insert(&self, key: &str, route: &str, body: &str) -> Result<bool, String> {
        let (key, route, body) = (key.to_string(), route.to_string(), body.to_string());
        self.with_client(move |c| {
            Box::pin(async move {
                let n = c
                    .execute(
                        &format!("INSERT INTO {TABLE} (key, route, body) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING"),
                        &[&key, &route, &body],
                    )
                    .await?;
                Ok(n == 1)
            })
        })
        .await
    }

    /// Reads a write back.
    pub async fn get(&self, key: &str) -> Result<Option<Row>, String> {
        let key = key.to_string();
        self.with_client(move |c| {
            Box::pin(async move {
                let row = c
                    .query_opt(
                        &format!("SELECT key, route, body FROM {TABLE} WHERE key = $1"),
                        &[&key],
                    )
                    .await?;
                Ok(row.map(|r| Row {
                    key: r.get(0),
                    route: r.get(1),
                    body: r.get(2),
                }))
            })
        })
        .await
    }

    /// Keys after `after` in key order, at most `limit` (the audit's list endpoint).
    pub async fn keys(&self, after: &str, limit: i64) -> Result<Vec<String>, String> {
        let after = after.to_string();
        self.with_client(move |c| {
            Box::pin(async move {
                let rows = c
                    .query(
                        &format!("SELECT key FROM {TABLE} WHERE key > $1 ORDER BY key LIMIT $2"),
                        &[&after, &limit],
                    )
                    .await?;
                Ok(rows.iter().map(|r| r.get(0)).collect())
            })
        })
        .await
    }
}
