//! Paths the daemon could not apply, carried from cycle to cycle, so that a
//! sync status never calls a revision applied while one of its files is
//! missing from the disk.
//!
//! A refused path (a directory in the way, a symlink on the way, a name the
//! manifest carried but this daemon cannot hold) is not retried by the next
//! delta, which only names what changed since. So the refusal is remembered
//! until a later manifest settles that path: a delta that names it again
//! (written, refused anew, or deleted), or a full manifest, which replaces
//! every remembered refusal. While any refusal stands, the daemon reports the
//! last revision it applied completely, and the refused paths as an error.

use std::collections::BTreeMap;

/// How many refused paths a status message names; the rest are counted.
const NAMED_IN_MESSAGE: usize = 5;

/// What one applied cycle says about refusals.
#[derive(Debug, Default)]
pub struct CycleRefusals<'a> {
    pub revision: u64,
    /// A full manifest: it settles every path.
    pub full: bool,
    /// For a delta, the paths it named (files and deletions).
    pub mentioned: Vec<&'a str>,
    /// Paths this cycle could not apply, each with the reason.
    pub refused: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refusals {
    /// Path → reason, for every path whose latest server state is not on disk.
    standing: BTreeMap<String, String>,
    /// The last revision applied with nothing refused.
    complete: Option<u64>,
}

impl Refusals {
    /// Takes in one cycle; returns the revision to report as applied: the
    /// cycle's own when nothing stands refused, else the last complete one
    /// (0 when there was none).
    pub fn after_cycle(&mut self, cycle: CycleRefusals<'_>) -> u64 {
        if cycle.full {
            self.standing.clear();
        } else {
            for path in cycle.mentioned {
                self.standing.remove(path);
            }
        }
        self.standing.extend(cycle.refused);
        if self.standing.is_empty() {
            self.complete = Some(cycle.revision);
        }
        self.complete.unwrap_or(0)
    }

    /// The refused paths in words, or `None` when there are none.
    pub fn describe(&self) -> Option<String> {
        if self.standing.is_empty() {
            return None;
        }
        let named: Vec<String> = self
            .standing
            .iter()
            .take(NAMED_IN_MESSAGE)
            .map(|(path, reason)| format!("{path:?} ({reason})"))
            .collect();
        let more = self.standing.len().saturating_sub(NAMED_IN_MESSAGE);
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        Some(format!(
            "could not apply {} path(s): {}{tail}; the preview lacks them until they change on the server or the daemon restarts",
            self.standing.len(),
            named.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(path: &str) -> (String, String) {
        (path.to_owned(), "a directory is in the way".to_owned())
    }

    fn delta<'a>(revision: u64, mentioned: &[&'a str], refused: &[&str]) -> CycleRefusals<'a> {
        CycleRefusals {
            revision,
            full: false,
            mentioned: mentioned.to_vec(),
            refused: refused.iter().map(|path| self::refused(path)).collect(),
        }
    }

    #[test]
    fn the_reported_revision_stays_at_the_last_complete_one_while_a_refusal_stands() {
        // (cycle, revision reported, refused paths named)
        let mut refusals = Refusals::default();
        let cases: Vec<(CycleRefusals<'_>, u64, Option<&str>)> = vec![
            (delta(1, &["a"], &[]), 1, None),
            (delta(2, &["b"], &["b"]), 1, Some("\"b\"")),
            // A later delta that does not name `b` leaves it refused.
            (delta(3, &["c"], &[]), 1, Some("\"b\"")),
            // Deleted or rewritten on the server: settled.
            (delta(4, &["b"], &[]), 4, None),
            (delta(5, &["d", "e"], &["d", "e"]), 4, Some("2 path(s)")),
            // A full manifest replaces every standing refusal.
            (
                CycleRefusals {
                    revision: 6,
                    full: true,
                    ..CycleRefusals::default()
                },
                6,
                None,
            ),
        ];
        for (cycle, reported, named) in cases {
            let revision = cycle.revision;
            assert_eq!(refusals.after_cycle(cycle), reported, "revision {revision}");
            match named {
                None => assert_eq!(refusals.describe(), None, "revision {revision}"),
                Some(text) => {
                    let message = refusals.describe().unwrap();
                    assert!(message.contains(text), "{message}");
                }
            }
        }
    }

    #[test]
    fn a_first_cycle_with_a_refusal_reports_nothing_applied() {
        let mut refusals = Refusals::default();
        assert_eq!(refusals.after_cycle(delta(7, &["x"], &["x"])), 0);
        let message = refusals.describe().unwrap();
        assert!(
            message.contains("\"x\" (a directory is in the way)"),
            "{message}"
        );
    }

    #[test]
    fn a_long_list_is_cut_and_counted() {
        let mut refusals = Refusals::default();
        let paths: Vec<String> = (0..8).map(|index| format!("p{index}")).collect();
        let refused: Vec<&str> = paths.iter().map(String::as_str).collect();
        refusals.after_cycle(delta(1, &[], &refused));
        let message = refusals.describe().unwrap();
        assert!(
            message.contains("8 path(s)") && message.contains("and 3 more"),
            "{message}"
        );
        assert!(!message.contains("p7"), "{message}");
    }
}
