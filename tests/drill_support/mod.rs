//! Helpers for the drill tests: a PostgreSQL primary and streaming standby on loopback (Debian's
//! PostgreSQL 15 binaries, run as the `postgres` user when the tests run as root), `twin
//! emulate` started with a database, free ports, and process guards that stop what they
//! started by PID when dropped, even when a test fails.
#![allow(dead_code)]

#[path = "../support/mod.rs"]
mod support;
#[allow(unused_imports)] // each drill test uses a part
pub use support::{json, show, twin, Emulator, TestServer};

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The prefix that runs a command as the database's user (`runuser -u postgres --` as root).
pub fn as_pg() -> String {
    if is_root() {
        "runuser -u postgres -- ".into()
    } else {
        String::new()
    }
}

pub fn sh(cmd: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .output()
        .expect("sh")
}

pub fn sh_ok(cmd: &str) -> String {
    let o = sh(cmd);
    assert!(o.status.success(), "`{cmd}` failed:\n{}", show(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `count` consecutive free loopback ports.
pub fn free_ports(count: u16) -> u16 {
    let seed = std::process::id() as u16;
    for k in 0..200u16 {
        let base = 20000 + (seed.wrapping_mul(7).wrapping_add(k * 13)) % 30000;
        if (0..count).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no free loopback ports");
}

/// A scratch directory (on /dev/shm when there is one: /tmp is a slow disk here), removed
/// when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let root = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = root.join(format!("twin-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        if is_root() {
            sh_ok(&format!("chown postgres:postgres {}", dir.display()));
        }
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Stops the processes whose PIDs it holds (or reads from files) when dropped.
#[derive(Default)]
pub struct Pids {
    pub files: Vec<PathBuf>,
    pub pids: Vec<u32>,
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
}

pub fn stop_pid(pid: u32) {
    let _ = sh(&format!(
        "kill -CONT {pid} 2>/dev/null; kill -QUIT {pid} 2>/dev/null"
    ));
    let t = Instant::now();
    while alive(pid) && t.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(20));
    }
    if alive(pid) {
        let _ = sh(&format!("kill -KILL {pid} 2>/dev/null"));
    }
}

impl Drop for Pids {
    fn drop(&mut self) {
        let mut pids = self.pids.clone();
        for f in &self.files {
            if let Ok(text) = std::fs::read_to_string(f) {
                if let Some(pid) = text.lines().next().and_then(|l| l.trim().parse().ok()) {
                    pids.push(pid);
                }
            }
        }
        for pid in pids {
            stop_pid(pid);
        }
    }
}

/// A primary and a streaming standby made with `pg_basebackup -R`.
pub struct PgPair {
    pub dir: PathBuf,
    pub primary: PathBuf,
    pub standby: PathBuf,
    pub p1: u16,
    pub p2: u16,
    /// Stops both postmasters (by the PIDs in their postmaster.pid) when dropped.
    pub guard: Pids,
}

pub fn psql(port: u16, sql: &str) -> String {
    sh_ok(&format!(
        "{PG_BIN}/psql -X -h 127.0.0.1 -p {port} -U postgres -d postgres -Atc \"{sql}\""
    ))
    .trim()
    .to_string()
}

pub fn postmaster_pid(data: &Path) -> u32 {
    std::fs::read_to_string(data.join("postmaster.pid"))
        .ok()
        .and_then(|t| t.lines().next().and_then(|l| l.trim().parse().ok()))
        .expect("postmaster.pid")
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl PgPair {
    /// Starts the pair in `dir`; `sync` makes the standby synchronous.
    pub fn start(dir: &Path, sync: bool) -> PgPair {
        let p1 = free_ports(2);
        let p2 = p1 + 1;
        let primary = dir.join("primary");
        let standby = dir.join("standby");
        let pg = as_pg();
        let mut pair = PgPair {
            dir: dir.to_path_buf(),
            primary: primary.clone(),
            standby: standby.clone(),
            p1,
            p2,
            guard: Pids {
                files: vec![
                    primary.join("postmaster.pid"),
                    standby.join("postmaster.pid"),
                ],
                pids: Vec::new(),
            },
        };
        sh_ok(&format!(
            "{pg}{PG_BIN}/initdb -D {} -U postgres --auth=trust --no-sync -E UTF8 >/dev/null",
            primary.display()
        ));
        // fsync off: valid for process-kill drills (the page cache survives); a 100 ms WAL
        // retry interval avoids the 5 s promotion stall (../shared/drill/README.md).
        let conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {p1}\nunix_socket_directories = '{}'\n\
             fsync = off\nwal_level = replica\nmax_wal_senders = 5\nsynchronous_commit = on\n\
             wal_retrieve_retry_interval = 100ms\nhot_standby = on\nlogging_collector = off\n",
            dir.display()
        );
        append(&primary.join("postgresql.conf"), &conf);
        sh_ok(&format!(
            "{pg}{PG_BIN}/pg_ctl start -w -t 30 -D {} -l {}/primary.log >/dev/null",
            primary.display(),
            dir.display()
        ));
        sh_ok(&format!(
            "{pg}{PG_BIN}/pg_basebackup -h 127.0.0.1 -p {p1} -U postgres -D {} -R -X stream -c fast --no-sync --no-manifest",
            standby.display()
        ));
        append(
            &standby.join("postgresql.conf"),
            &format!("port = {p2}\nsynchronous_standby_names = ''\n"),
        );
        sh_ok(&format!(
            "{pg}{PG_BIN}/pg_ctl start -w -t 30 -D {} -l {}/standby.log >/dev/null",
            standby.display(),
            dir.display()
        ));
        wait_for("streaming replication", Duration::from_secs(30), || {
            psql(
                p1,
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
            ) == "1"
        });
        if sync {
            psql(p1, "ALTER SYSTEM SET synchronous_standby_names = '*'");
            psql(p1, "SELECT pg_reload_conf()");
            wait_for("a synchronous standby", Duration::from_secs(30), || {
                psql(p1, "SELECT sync_state FROM pg_stat_replication") == "sync"
            });
        }
        pair.guard.pids.clear();
        pair
    }

    pub fn walsender_pid(&self) -> u32 {
        psql(self.p1, "SELECT pid FROM pg_stat_replication")
            .parse()
            .expect("walsender pid")
    }

    /// The multi-host connection string that follows the primary.
    pub fn url(&self) -> String {
        format!(
            "host=127.0.0.1,127.0.0.1 port={},{} user=postgres dbname=postgres target_session_attrs=read-write connect_timeout=2",
            self.p1, self.p2
        )
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open conf");
    f.write_all(text.as_bytes()).expect("append conf");
}

/// The write scenario the drills run: one service, one journey that writes a keyed record.
pub fn write_scenario(name: &str, drills: &str) -> String {
    format!(
        r#"name: {name}
horizon: 10s
services:
  api: {{replicas: 1, concurrency: 64, service_time: {{constant: 1ms}}}}
workload:
  arrivals: {{poisson: {{rate: 50/s}}}}
  journeys:
    - name: write
      steps:
        - service: api
          http: {{method: POST, path: /writes, body: '{{"key": "{{key}}"}}', expect: [200, 201]}}
slos:
  - p95(write) < 250ms
allowed_targets: [127.0.0.1]
drills:
{drills}
"#
    )
}

pub fn run_drill(scenario: &Path, drill: &str, target: &str, out: &Path, extra: &[&str]) -> Output {
    twin()
        .arg("drill")
        .arg(scenario)
        .args(["--drill", drill, "--target", target])
        .arg("--out")
        .arg(out)
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("run twin drill")
}

/// The acknowledgement log: (key, start_s, end_s, acked).
pub fn ack_log(path: &Path) -> Vec<(String, f64, f64, bool)> {
    let text = std::fs::read_to_string(path).expect("audit.csv");
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[1].to_string(),
                f[2].parse().expect("start"),
                f[3].parse().expect("end"),
                f[4] == "true",
            )
        })
        .collect()
}
