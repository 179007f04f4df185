//! Server-sent-event streams (`http: {stream: sse}`): the WHATWG `text/event-stream` framing
//! parsed as bytes arrive, and the timing of the events a load measures (time to first event,
//! the gaps between events, events received). Written here rather than taken from a crate
//! (`eventsource-stream`, `sse-codec`): the load needs only where each event ends and when its
//! bytes arrived, not the event's fields as strings, and ~60 lines with their tests cost less
//! than a dependency and its `futures` stream adapters.

use std::time::{Duration, Instant};

/// Splits a byte stream into events: an event ends at a blank line and counts when it carried
/// at least one `data` field (the spec dispatches nothing otherwise); comment lines (`:`),
/// `event:`, `id:` and `retry:` lines alone make no event. Lines end in LF, CRLF or CR, and a
/// CRLF split over two chunks is one line end. `data: [DONE]` (the OpenAI convention for the
/// end of a stream) is an end marker, not a token.
#[derive(Default, Debug)]
pub struct Parser {
    /// The current line so far (only its start matters: the field name).
    line: Vec<u8>,
    /// The event being read has a data field.
    has_data: bool,
    /// The event being read is only `[DONE]`.
    done_marker: bool,
    /// The last byte was a CR (a following LF belongs to the same line end).
    after_cr: bool,
}

impl Parser {
    /// Feeds a chunk; returns how many events it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> u64 {
        let mut events = 0;
        for &b in chunk {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\r' | b'\n' => {
                    self.after_cr = b == b'\r';
                    events += self.end_line();
                }
                _ => {
                    // Field names are short: keep just enough to recognise `data` and `[DONE]`.
                    if self.line.len() < 16 {
                        self.line.push(b);
                    }
                }
            }
        }
        events
    }

    fn end_line(&mut self) -> u64 {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            let event = u64::from(self.has_data && !self.done_marker);
            self.has_data = false;
            self.done_marker = false;
            return event;
        }
        if line.starts_with(b":") {
            return 0;
        }
        let (name, value) = match line.iter().position(|&c| c == b':') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (&line[..], &[][..]),
        };
        if name == b"data" {
            let value = value.strip_prefix(b" ").unwrap_or(value);
            self.done_marker = !self.has_data && value == b"[DONE]";
            self.has_data = true;
        }
        0
    }
}

/// When the events of one stream arrived.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamTiming {
    /// From sending the request to the first event; `None` when no event came.
    pub first: Option<Duration>,
    /// Between consecutive events (events completed by the same chunk are 0 apart).
    pub gaps: Vec<Duration>,
    pub events: u64,
}

impl StreamTiming {
    /// Notes `n` events completed by a chunk that arrived at `at` (request sent at `sent`);
    /// `last` is when the previous event arrived.
    pub fn arrived(&mut self, n: u64, sent: Instant, at: Instant, last: &mut Option<Instant>) {
        for _ in 0..n {
            match *last {
                None => self.first = Some(at.saturating_duration_since(sent)),
                Some(prev) => self.gaps.push(at.saturating_duration_since(prev)),
            }
            *last = Some(at);
            self.events += 1;
        }
    }
}

/// Reads a streamed answer to its end, timing each event from `sent` (when the request went).
pub async fn read(
    mut response: reqwest::Response,
    sent: Instant,
) -> Result<StreamTiming, reqwest::Error> {
    let mut parser = Parser::default();
    let mut timing = StreamTiming::default();
    let mut last = None;
    while let Some(chunk) = response.chunk().await? {
        let n = parser.feed(&chunk);
        timing.arrived(n, sent, Instant::now(), &mut last);
    }
    Ok(timing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(chunks: &[&str]) -> u64 {
        let mut p = Parser::default();
        chunks.iter().map(|c| p.feed(c.as_bytes())).sum()
    }

    /// The examples of the WHATWG HTML standard, section 9.2.6 (event stream interpretation).
    #[test]
    fn the_standards_examples() {
        // "data: YHOO / data: +2 / data: 10" is one event; the stock-ticker example.
        assert_eq!(count(&["data: YHOO\ndata: +2\ndata: 10\n\n"]), 1);
        // A comment, then two events (the second with an id), a lone `data` line (empty data:
        // still an event), and an unterminated last block, which is never dispatched.
        let text = ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata\n\ndata:  third event";
        assert_eq!(count(&[text]), 3);
        // Blocks without data dispatch nothing.
        assert_eq!(count(&["event: ping\n\nid: 7\n\nretry: 10\n\n"]), 0);
    }

    #[test]
    fn line_ends_and_chunk_boundaries() {
        assert_eq!(count(&["data: a\r\n\r\ndata: b\r\rdata: c\n\n"]), 3);
        // CRLF split between chunks, and a field split in the middle.
        assert_eq!(count(&["data: a\r", "\n\r", "\nda", "ta: b\n", "\n"]), 2);
        // The OpenAI end marker is not a token.
        assert_eq!(count(&["data: {\"t\":1}\n\ndata: [DONE]\n\n"]), 1);
    }

    #[test]
    fn timing_of_events() {
        let sent = Instant::now();
        let ms = Duration::from_millis;
        let mut t = StreamTiming::default();
        let mut last = None;
        t.arrived(1, sent, sent + ms(100), &mut last);
        t.arrived(0, sent, sent + ms(120), &mut last);
        t.arrived(2, sent, sent + ms(150), &mut last);
        assert_eq!(t.first, Some(ms(100)));
        assert_eq!(t.gaps, vec![ms(50), ms(0)]);
        assert_eq!(t.events, 3);
    }
}
