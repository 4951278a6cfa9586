//! Following a server-sent event stream (`logs -f`, the preview's events
//! under `push --watch`): a pure parser of the format, and [`follow`], which
//! reconnects after a dropped stream with `Last-Event-ID`, so nothing is
//! printed twice or missed.

use std::time::Duration;

use futures::StreamExt;
use reqwest::Method;

use super::connection::{ClientError, Connection};

/// A longer pending line is a broken stream, not an event: it is dropped.
const MAX_PENDING_BYTES: usize = 4 * 1024 * 1024;
/// Waits between reconnects, doubled up to the last.
const RECONNECT_DELAYS: [Duration; 4] = [
    Duration::from_millis(250),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(5),
];

/// One dispatched event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The last `id:` seen so far in the stream, as the format defines it.
    pub id: Option<String>,
    /// `message` when the event named none.
    pub event: String,
    pub data: String,
}

/// The event stream format, fed chunk by chunk.
#[derive(Debug, Default)]
pub struct SseParser {
    pending: Vec<u8>,
    event: Option<String>,
    data: Vec<String>,
    id: Option<String>,
}

impl SseParser {
    /// The events `chunk` completes.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(end) = self.pending.iter().position(|byte| *byte == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches('\n').trim_end_matches('\r');
            if let Some(event) = self.line(line) {
                events.push(event);
            }
        }
        if self.pending.len() > MAX_PENDING_BYTES {
            self.pending.clear();
        }
        events
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let event = self.event.take();
            if self.data.is_empty() {
                return None;
            }
            return Some(SseEvent {
                id: self.id.clone(),
                event: event.unwrap_or_else(|| "message".to_owned()),
                data: std::mem::take(&mut self.data).join("\n"),
            });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => self.data.push(value.to_owned()),
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {}
        }
        None
    }
}

/// Follows `path`'s stream, calling `on_event` for each event, until the
/// server refuses it. A failure to connect the first time is the caller's
/// error; after that a dropped stream is reconnected (with the last event
/// id) with a note on stderr. Ends only with an error: the caller stops it
/// by dropping the future (Ctrl-C).
pub async fn follow(
    connection: &Connection,
    path: &str,
    mut on_event: impl FnMut(SseEvent),
) -> anyhow::Result<()> {
    let mut last_id: Option<String> = None;
    let mut connected_once = false;
    let mut failures = 0_usize;
    loop {
        let mut request = connection
            .stream_request(Method::GET, path)
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(id) = &last_id {
            request = request.header("last-event-id", id.as_str());
        }
        let response = match connection.send(request).await {
            Ok(response) => response,
            Err(error) if connected_once && is_unreachable(&error) => {
                eprintln!("{error:#}; retrying");
                failures += 1;
                tokio::time::sleep(delay(failures)).await;
                continue;
            }
            Err(error) => return Err(error),
        };
        connected_once = true;
        let mut parser = SseParser::default();
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let Ok(chunk) = chunk else { break };
            for event in parser.feed(&chunk) {
                failures = 0;
                last_id.clone_from(&event.id);
                on_event(event);
            }
        }
        failures += 1;
        tokio::time::sleep(delay(failures)).await;
    }
}

fn is_unreachable(error: &anyhow::Error) -> bool {
    matches!(
        error.downcast_ref::<ClientError>(),
        Some(ClientError::Unreachable { .. })
    )
}

fn delay(failures: usize) -> Duration {
    RECONNECT_DELAYS[failures.saturating_sub(1).min(RECONNECT_DELAYS.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: Option<&str>, event: &str, data: &str) -> SseEvent {
        SseEvent {
            id: id.map(str::to_owned),
            event: event.to_owned(),
            data: data.to_owned(),
        }
    }

    #[test]
    fn events_are_parsed_across_chunk_boundaries_and_line_endings() {
        let cases: Vec<(Vec<&str>, Vec<SseEvent>)> = vec![
            (
                vec!["id: 58\nevent: line\ndata: {\"text\":\"a\"}\n\n"],
                vec![event(Some("58"), "line", "{\"text\":\"a\"}")],
            ),
            (
                vec![
                    "id: 1\nevent: li",
                    "ne\ndata: x\n",
                    "\n: keep-alive\n\nid: 2\ndata: y\r\n\r\n",
                ],
                vec![
                    event(Some("1"), "line", "x"),
                    event(Some("2"), "message", "y"),
                ],
            ),
            (
                vec!["event: render\ndata: one\ndata: two\n\n"],
                vec![event(None, "render", "one\ntwo")],
            ),
            (vec![": comment only\n\n", "event: nothing\n\n"], vec![]),
            (
                vec!["data:no-space\n\n"],
                vec![event(None, "message", "no-space")],
            ),
            (vec!["data: unfinished"], vec![]),
        ];
        for (chunks, expected) in cases {
            let mut parser = SseParser::default();
            let events: Vec<SseEvent> = chunks
                .iter()
                .flat_map(|chunk| parser.feed(chunk.as_bytes()))
                .collect();
            assert_eq!(events, expected, "{chunks:?}");
        }
    }

    #[test]
    fn an_event_keeps_the_last_id_of_its_stream() {
        let mut parser = SseParser::default();

        let events = parser.feed(b"id: 7\ndata: a\n\ndata: b\n\n");

        assert_eq!(events[1].id.as_deref(), Some("7"));
    }

    #[test]
    fn reconnects_back_off_to_five_seconds() {
        let delays: Vec<Duration> = (1..=6).map(delay).collect();
        assert_eq!(delays[0], Duration::from_millis(250));
        assert_eq!(delays[5], Duration::from_secs(5));
    }
}
