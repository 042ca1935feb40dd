//! One row of `target/bench/report.json` and of the printed table:
//! `{"name", "value", "unit", "spread", "ceiling", "ratio", "goal", "met"}`.

use serde::{Deserialize, Serialize};

use crate::stats::spread;

/// What a figure must reach.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// value / ceiling ≥ this.
    RatioAtLeast(f64),
    /// value / ceiling ≤ this (latencies against a floor).
    RatioAtMost(f64),
    /// value ≥ this.
    AtLeast(f64),
    /// value ≤ this.
    AtMost(f64),
    /// Reported only.
    None,
}

/// A measured figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// Name, e.g. `submit_key_throughput`.
    pub name: String,
    /// Median over the runs (null when it could not be measured).
    pub value: Option<f64>,
    /// Unit of `value` and `ceiling`.
    pub unit: String,
    /// `min..max over N runs` of the value.
    pub spread: String,
    /// The physical limit or peer it is compared with (median).
    pub ceiling: Option<f64>,
    /// value / ceiling.
    pub ratio: Option<f64>,
    /// The goal in words.
    pub goal: String,
    /// Whether the goal is met (false when unmeasured).
    pub met: bool,
    /// What the ceiling is, and any gap explained.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl Figure {
    /// A figure from per-run values and per-run ceilings (medians taken).
    pub fn from_runs(
        name: &str,
        unit: &str,
        runs: &[f64],
        ceiling_runs: &[f64],
        goal: Goal,
        note: String,
    ) -> Figure {
        let s = spread(runs);
        let value = s.map(|s| s.median);
        let ceiling = spread(ceiling_runs).map(|s| s.median);
        let ratio = value
            .zip(ceiling)
            .and_then(|(v, c)| (c > 0.0).then_some(v / c));
        let (goal_text, met) = match goal {
            Goal::RatioAtLeast(g) => (format!("ratio >= {g}"), ratio.is_some_and(|r| r >= g)),
            Goal::RatioAtMost(g) => (format!("ratio <= {g}"), ratio.is_some_and(|r| r <= g)),
            Goal::AtLeast(g) => (format!(">= {g} {unit}"), value.is_some_and(|v| v >= g)),
            Goal::AtMost(g) => (format!("< {g} {unit}"), value.is_some_and(|v| v < g)),
            Goal::None => ("(reported)".to_owned(), true),
        };
        Figure {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
            spread: s.map_or("-".to_owned(), |s| {
                format!("{}..{} over {} runs", fmt(s.min), fmt(s.max), s.runs)
            }),
            ceiling,
            ratio,
            goal: goal_text,
            met,
            note,
        }
    }

    /// An unmeasurable figure, with the reason.
    pub fn unmeasured(name: &str, unit: &str, goal: &str, why: String) -> Figure {
        Figure {
            name: name.to_owned(),
            value: None,
            unit: unit.to_owned(),
            spread: "-".to_owned(),
            ceiling: None,
            ratio: None,
            goal: goal.to_owned(),
            met: false,
            note: why,
        }
    }
}

/// Three significant digits, no exponent.
pub fn fmt(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The markdown table `scripts/bench` prints.
pub fn table(figures: &[Figure]) -> String {
    let mut s = String::from(
        "| figure | value | spread | ceiling | ratio | goal | met |\n|---|---|---|---|---|---|---|\n",
    );
    let o = |v: Option<f64>| v.map_or("-".to_owned(), fmt);
    for f in figures {
        s.push_str(&format!(
            "| {} | {} {} | {} | {} | {} | {} | {} |\n",
            f.name,
            o(f.value),
            f.unit,
            f.spread,
            o(f.ceiling),
            f.ratio.map_or("-".to_owned(), |r| format!("{r:.2}")),
            f.goal,
            if f.met { "yes" } else { "**no**" }
        ));
    }
    let notes: Vec<_> = figures.iter().filter(|f| !f.note.is_empty()).collect();
    if !notes.is_empty() {
        s.push('\n');
        for f in notes {
            s.push_str(&format!("- `{}`: {}\n", f.name, f.note));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_and_goal() {
        let f = Figure::from_runs(
            "x",
            "op/s",
            &[80.0, 90.0, 85.0],
            &[100.0],
            Goal::RatioAtLeast(0.8),
            String::new(),
        );
        assert_eq!(f.value, Some(85.0));
        assert_eq!(f.ratio, Some(0.85));
        assert!(f.met);
        let f = Figure::from_runs(
            "x",
            "op/s",
            &[70.0],
            &[100.0],
            Goal::RatioAtLeast(0.8),
            String::new(),
        );
        assert!(!f.met);
        let f = Figure::from_runs(
            "p50",
            "ms",
            &[160.0],
            &[],
            Goal::AtMost(150.0),
            String::new(),
        );
        assert!(!f.met && f.ratio.is_none());
        let f = Figure::unmeasured("y", "ms", "< 1", "no".into());
        assert!(!f.met && table(&[f]).contains("**no**"));
    }
}
