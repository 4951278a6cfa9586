//! Figures, each beside its goal, printed as they are measured and again as
//! one table at the end.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    /// A reference or breakdown figure with no goal of its own.
    Info,
}

impl Verdict {
    pub fn of(met: bool) -> Verdict {
        if met { Verdict::Met } else { Verdict::Missed }
    }

    fn label(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "MISSED",
            Verdict::Info => "",
        }
    }
}

struct Row {
    item: &'static str,
    figure: String,
    value: String,
    goal: String,
    verdict: Verdict,
}

#[derive(Default)]
pub struct Report {
    rows: Vec<Row>,
}

impl Report {
    pub fn add(
        &mut self,
        item: &'static str,
        figure: impl Into<String>,
        value: impl Into<String>,
        goal: impl Into<String>,
        verdict: Verdict,
    ) {
        let row = Row {
            item,
            figure: figure.into(),
            value: value.into(),
            goal: goal.into(),
            verdict,
        };
        let goal = if row.goal.is_empty() {
            String::new()
        } else {
            format!("   (goal {}: {})", row.goal, row.verdict.label())
        };
        println!("  [{}] {}: {}{goal}", row.item, row.figure, row.value);
        self.rows.push(row);
    }

    pub fn info(
        &mut self,
        item: &'static str,
        figure: impl Into<String>,
        value: impl Into<String>,
    ) {
        self.add(item, figure, value, "", Verdict::Info);
    }

    pub fn print_table(&self) {
        let width = |pick: fn(&Row) -> usize, title: &str| {
            self.rows
                .iter()
                .map(pick)
                .max()
                .unwrap_or(0)
                .max(title.len())
        };
        let figure_width = width(|row| row.figure.chars().count(), "figure");
        let value_width = width(|row| row.value.chars().count(), "measured");
        let goal_width = width(|row| row.goal.chars().count(), "goal");
        println!(
            "| # | {:figure_width$} | {:value_width$} | {:goal_width$} | verdict |",
            "figure", "measured", "goal"
        );
        println!(
            "|---|{}|{}|{}|---------|",
            "-".repeat(figure_width + 2),
            "-".repeat(value_width + 2),
            "-".repeat(goal_width + 2)
        );
        let mut rows: Vec<&Row> = self.rows.iter().collect();
        rows.sort_by_key(|row| row.item);
        for row in rows {
            println!(
                "| {} | {:figure_width$} | {:value_width$} | {:goal_width$} | {:7} |",
                row.item,
                row.figure,
                row.value,
                row.goal,
                row.verdict.label()
            );
        }
        let missed = self
            .rows
            .iter()
            .filter(|row| row.verdict == Verdict::Missed)
            .count();
        let met = self
            .rows
            .iter()
            .filter(|row| row.verdict == Verdict::Met)
            .count();
        println!("goals: {met} met, {missed} missed");
    }
}

/// The nearest-rank percentile `p` (0–100) of unsorted durations.
pub fn percentile(values: &[Duration], p: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// "p50 / p99" of durations.
pub fn p50_p99(values: &[Duration]) -> String {
    format!(
        "{} / {}",
        ms(percentile(values, 50.0)),
        ms(percentile(values, 99.0))
    )
}

pub fn median(values: &[Duration]) -> Duration {
    percentile(values, 50.0)
}

pub fn ms(duration: Duration) -> String {
    let millis = duration.as_secs_f64() * 1000.0;
    if millis < 10.0 {
        format!("{millis:.2} ms")
    } else if millis < 10_000.0 {
        format!("{millis:.0} ms")
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

pub fn bytes(count: u64) -> String {
    if count < 10 * 1024 {
        format!("{count} B")
    } else if count < 10 * 1024 * 1024 {
        format!("{:.1} KiB", count as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", count as f64 / (1024.0 * 1024.0))
    }
}
