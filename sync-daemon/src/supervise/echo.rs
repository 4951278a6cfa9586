//! How much of the dev server's output the daemon repeats in its own log.
//!
//! Every line already goes to the preview's log (`crate::logs`); the
//! daemon's own log (a file on the local driver, the machine's log on Fly)
//! repeats them only for whoever reads it there. A dev server printing
//! thousands of lines a second would otherwise cost the daemon a formatted
//! write per line, competing with the sync path for the machine, and grow
//! that log without bound. So at most [`ECHOED_PER_SECOND`] lines a second
//! are repeated; the first line repeated after a pause says how many were
//! left out.

use std::time::{Duration, Instant};

/// The most output lines a second the daemon's own log repeats, per stream.
pub const ECHOED_PER_SECOND: u32 = 50;
const WINDOW: Duration = Duration::from_secs(1);

/// Whether to repeat a line, decided per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// Repeat it.
    Line,
    /// Repeat it, after a note that this many lines before it were not.
    AfterLeftOut(u64),
    /// Leave it out (it is in the preview's log all the same).
    LeaveOut,
}

/// A window of [`WINDOW`]: the lines repeated in it, and the lines left out
/// since the last one repeated.
#[derive(Debug)]
pub struct EchoBudget {
    window_start: Instant,
    echoed: u32,
    left_out: u64,
}

impl EchoBudget {
    pub fn new(now: Instant) -> EchoBudget {
        EchoBudget {
            window_start: now,
            echoed: 0,
            left_out: 0,
        }
    }

    /// The decision for a line read at `now`.
    pub fn take(&mut self, now: Instant) -> Echo {
        if now.duration_since(self.window_start) >= WINDOW {
            self.window_start = now;
            self.echoed = 0;
        }
        if self.echoed >= ECHOED_PER_SECOND {
            self.left_out += 1;
            return Echo::LeaveOut;
        }
        self.echoed += 1;
        match std::mem::take(&mut self.left_out) {
            0 => Echo::Line,
            left_out => Echo::AfterLeftOut(left_out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_repeated_up_to_the_budget_and_the_next_window_says_what_was_left_out() {
        let start = Instant::now();
        let mut budget = EchoBudget::new(start);
        let first: Vec<Echo> = (0..ECHOED_PER_SECOND + 30)
            .map(|_| budget.take(start))
            .collect();
        assert!(
            first[..ECHOED_PER_SECOND as usize]
                .iter()
                .all(|echo| *echo == Echo::Line)
        );
        assert!(
            first[ECHOED_PER_SECOND as usize..]
                .iter()
                .all(|echo| *echo == Echo::LeaveOut)
        );
        let later = start + WINDOW;
        assert_eq!(budget.take(later), Echo::AfterLeftOut(30));
        assert_eq!(budget.take(later), Echo::Line, "the count is said once");
    }

    #[test]
    fn a_quiet_dev_server_is_repeated_line_for_line() {
        let start = Instant::now();
        let mut budget = EchoBudget::new(start);
        for second in 0..5 {
            let now = start + WINDOW * second;
            for _ in 0..ECHOED_PER_SECOND {
                assert_eq!(budget.take(now), Echo::Line);
            }
        }
    }
}
