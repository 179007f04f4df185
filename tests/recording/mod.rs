//! A loopback HTTP/1.1 server written for the load tests that records every request it gets
//! (method, path, headers, body, when) and answers from a handler that sees the request and
//! how many came before it: status, extra headers (a `Set-Cookie`) and a body. A thread per
//! connection with keep-alive; its threads end with the test process.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// When its head had been read, since the server started.
    pub at: Duration,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The answer: status, extra headers, body. `n` is the request's number (from 0).
pub type Handler = fn(&Seen, u64) -> (u16, Vec<(String, String)>, String);

pub struct Recording {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recording {
    pub fn start(handler: Handler) -> Recording {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let shared = seen.clone();
        let t0 = Instant::now();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let seen = shared.clone();
                std::thread::spawn(move || serve(conn, handler, t0, &seen));
            }
        });
        Recording { port, seen }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request so far, in the order they were read.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }
}

fn serve(conn: TcpStream, handler: Handler, t0: Instant, seen: &Mutex<Vec<Seen>>) {
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
        let at = t0.elapsed();
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
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
                let k = k.trim().to_ascii_lowercase();
                if k == "content-length" {
                    length = v.trim().parse().unwrap_or(0);
                }
                headers.push((k, v.trim().to_string()));
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request = Seen {
            method,
            path,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            at,
        };
        let n = {
            let mut g = seen.lock().expect("seen");
            g.push(request.clone());
            g.len() as u64 - 1
        };
        let (status, extra, reply) = handler(&request, n);
        let mut head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            reply.len()
        );
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if write!(out, "{head}\r\n{reply}").is_err() {
            return;
        }
    }
}
