//! How many connections the server holds, and which one gives way when a
//! new one arrives at the limit.
//!
//! Every open connection costs a file descriptor (two when the edge proxy
//! forwards it), and the process has a fixed number of them: without a bound,
//! a few hundred connections that never finish their headers starve the
//! database, the proxy and the long-polls. The bound leaves a reserve of
//! descriptors for everything else, and at the bound the connection that has
//! been idle longest (no request in flight: half-sent headers, or a
//! keep-alive nobody uses) is closed to make room. A connection with a
//! request in flight (a long-poll, an event stream) is never closed for room;
//! when every connection is busy the newcomer is told 503 and closed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio_util::sync::CancellationToken;

/// Descriptors kept for the store, outgoing requests, child processes and
/// logs: a quarter of the limit, at least this many.
const MIN_RESERVED_DESCRIPTORS: u64 = 64;
/// The bound never exceeds this, however high the descriptor limit.
const MAX_CONNECTIONS: usize = 65_536;

/// How many connections fit under a descriptor limit: a quarter (at least
/// [`MIN_RESERVED_DESCRIPTORS`]) is kept for the rest of the process, and
/// each connection may need a second descriptor to reach a local preview.
pub fn connection_budget(open_files_limit: u64) -> usize {
    let reserved = (open_files_limit / 4).max(MIN_RESERVED_DESCRIPTORS);
    let per_connection = 2;
    let budget = open_files_limit.saturating_sub(reserved) / per_connection;
    usize::try_from(budget)
        .unwrap_or(MAX_CONNECTIONS)
        .clamp(1, MAX_CONNECTIONS)
}

/// One open connection as the table sees it.
#[derive(Debug)]
struct Entry {
    /// Requests being answered, their bodies included.
    in_flight: Arc<AtomicUsize>,
    close: CancellationToken,
}

/// What the table decides for a newcomer.
#[derive(Debug)]
pub enum Admission {
    /// Serve it; `close` fires if it is later chosen to give way.
    Admitted(Connection),
    /// Every connection is busy: answer 503 and close.
    Full,
}

/// The handle a connection's task holds: its id (to leave the table), its
/// in-flight counter and its close signal.
#[derive(Debug)]
pub struct Connection {
    pub id: u64,
    pub in_flight: Arc<AtomicUsize>,
    pub close: CancellationToken,
}

/// The open connections, oldest first (ids grow with each accept).
#[derive(Debug)]
pub struct ConnectionTable {
    limit: usize,
    next_id: u64,
    open: BTreeMap<u64, Entry>,
}

impl ConnectionTable {
    pub fn new(limit: usize) -> ConnectionTable {
        ConnectionTable {
            limit: limit.max(1),
            next_id: 0,
            open: BTreeMap::new(),
        }
    }

    /// Admits a new connection, closing the oldest idle one if the table is full.
    pub fn admit(&mut self) -> Admission {
        if self.open.len() >= self.limit {
            let busy: Vec<(u64, bool)> = self
                .open
                .iter()
                .map(|(id, entry)| (*id, entry.in_flight.load(Ordering::Acquire) > 0))
                .collect();
            let Some(victim) = oldest_idle(&busy) else {
                return Admission::Full;
            };
            if let Some(entry) = self.open.remove(&victim) {
                entry.close.cancel();
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        let entry = Entry {
            in_flight: Arc::new(AtomicUsize::new(0)),
            close: CancellationToken::new(),
        };
        let connection = Connection {
            id,
            in_flight: Arc::clone(&entry.in_flight),
            close: entry.close.clone(),
        };
        self.open.insert(id, entry);
        Admission::Admitted(connection)
    }

    /// A connection ended (or was closed): its place is free.
    pub fn leave(&mut self, id: u64) {
        self.open.remove(&id);
    }

    pub fn len(&self) -> usize {
        self.open.len()
    }
}

/// The connection to close for room: the oldest with nothing in flight.
/// `connections` is (id, busy), oldest first.
fn oldest_idle(connections: &[(u64, bool)]) -> Option<u64> {
    connections
        .iter()
        .find(|(_, busy)| !busy)
        .map(|(id, _)| *id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_keeps_a_reserve_and_two_descriptors_per_connection() {
        let cases = [
            (256, 96),
            (1024, 384),
            (100, 18),
            (10, 1),
            (1 << 20, MAX_CONNECTIONS),
        ];
        for (limit, budget) in cases {
            assert_eq!(connection_budget(limit), budget, "limit {limit}");
        }
    }

    #[test]
    fn the_oldest_idle_connection_gives_way_and_a_busy_one_never_does() {
        /// Connections as (id, busy), and the one that gives way.
        type Case<'a> = (&'a [(u64, bool)], Option<u64>);
        let cases: [Case<'_>; 4] = [
            (&[(1, false), (2, false)], Some(1)),
            (&[(1, true), (2, false), (3, false)], Some(2)),
            (&[(1, true), (2, true)], None),
            (&[], None),
        ];
        for (connections, victim) in cases {
            assert_eq!(oldest_idle(connections), victim, "{connections:?}");
        }
    }

    #[test]
    fn a_full_table_closes_an_idle_connection_for_a_newcomer_and_refuses_when_all_are_busy() {
        let mut table = ConnectionTable::new(2);
        let Admission::Admitted(long_poll) = table.admit() else {
            panic!("room");
        };
        long_poll.in_flight.fetch_add(1, Ordering::AcqRel);
        let Admission::Admitted(half_sent) = table.admit() else {
            panic!("room");
        };

        let Admission::Admitted(newcomer) = table.admit() else {
            panic!("the idle one gives way");
        };
        assert!(half_sent.close.is_cancelled());
        assert!(!long_poll.close.is_cancelled());
        assert_eq!(table.len(), 2);

        newcomer.in_flight.fetch_add(1, Ordering::AcqRel);
        assert!(matches!(table.admit(), Admission::Full));
        table.leave(newcomer.id);
        assert!(matches!(table.admit(), Admission::Admitted(_)));
    }
}
