//! What every end-to-end test of `twin emulate`, `twin load` and `twin drill` shares: the
//! binary, an emulator started on a free loopback port (stopped by its own PID when dropped,
//! optionally with a database), its counters, a bare HTTP/1.1 client, `twin load`, JSON files.
//! `drill_support` adds the PostgreSQL pair on top of this.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub fn twin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_twin"))
}

pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/examples")
        .join(name)
}

/// A running `twin emulate`.
pub struct Emulator {
    child: Child,
    pub port: u16,
}

impl Emulator {
    pub fn start(scenario: &Path) -> Emulator {
        Emulator::with_database(scenario, None)
    }

    /// `twin emulate` writing to PostgreSQL at `database_url` when given.
    pub fn with_database(scenario: &Path, database_url: Option<&str>) -> Emulator {
        let mut cmd = twin();
        cmd.arg("emulate")
            .arg(scenario)
            .args(["--listen", "127.0.0.1:0"]);
        if let Some(u) = database_url {
            cmd.args(["--database-url", u]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start twin emulate");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        let port = line
            .rsplit("127.0.0.1:")
            .next()
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("twin emulate printed no address: {line:?}");
        };
        Emulator { child, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        http(self.port, "GET", path, "")
    }

    /// The emulator's own count of requests on scenario routes.
    pub fn requests(&self) -> u64 {
        let (_, body) = self.get("/__twin/stats");
        let v: serde_json::Value = serde_json::from_str(&body).expect("stats JSON");
        v["requests"].as_u64().expect("requests")
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 request over loopback (no client crate in the tests).
pub fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Runs `twin load` and returns its output.
pub fn load(scenario: &Path, target: &str, out: &Path, extra: &[&str]) -> Output {
    twin()
        .arg("load")
        .arg(scenario)
        .args(["--target", target])
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("run twin load")
}

pub fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("JSON")
}

pub fn show(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// What a [`TestServer`] answers: status and how long to wait first, from the request's
/// method, path and the time since the server started.
pub type Handler = fn(&str, &str, Duration) -> (u16, Duration);

/// A tiny HTTP/1.1 server on a free loopback port (a thread per connection, keep-alive), for
/// behaviours the emulator does not have (every request a 404, a stall mid-run). Counts the
/// requests per path; its threads end with the test process.
pub struct TestServer {
    pub port: u16,
    pub counts: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, u64>>>,
}

impl TestServer {
    pub fn start(handler: Handler) -> TestServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let counts = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
        let shared = counts.clone();
        let t0 = std::time::Instant::now();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let counts = shared.clone();
                std::thread::spawn(move || serve(conn, handler, t0, &counts));
            }
        });
        TestServer { port, counts }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Requests seen whose path starts with `prefix`.
    pub fn count(&self, prefix: &str) -> u64 {
        let g = self.counts.lock().expect("counts");
        g.iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    }
}

fn serve(
    conn: TcpStream,
    handler: Handler,
    t0: std::time::Instant,
    counts: &std::sync::Mutex<std::collections::HashMap<String, u64>>,
) {
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        *counts
            .lock()
            .expect("counts")
            .entry(path.clone())
            .or_default() += 1;
        let (status, wait) = handler(&method, &path, t0.elapsed());
        std::thread::sleep(wait);
        let reply = "{\"ok\": true}";
        if write!(
            out,
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{reply}",
            reply.len()
        )
        .is_err()
        {
            return;
        }
    }
}

/// Runs the command line `args` on a pseudo-terminal (util-linux `script`) when `tty`, else
/// through a pipe (stderr joined to stdout), with `CI` set or not: what a progress bar test
/// needs to see what a terminal or a CI log would show.
pub fn as_seen(args: &str, tty: bool, ci: bool) -> Output {
    let mut cmd = if tty {
        let mut c = Command::new("script");
        c.args(["-qec", args, "/dev/null"]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", &format!("{args} 2>&1")]);
        c
    };
    cmd.env_remove("CI");
    if ci {
        cmd.env("CI", "true");
    }
    cmd.output().expect("run the command")
}
