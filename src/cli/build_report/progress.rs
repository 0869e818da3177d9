//! The Nix build's progress: counts, what builds now and its phase, elapsed time, logs under -v.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use biar::build::BuildEvent;
use indicatif::{ProgressBar, ProgressStyle};

use super::{Show, Sink};
use crate::cli::print::errln;

enum Mode {
    Bar(ProgressBar),
    Plain,
    /// JSON lines on the results sink.
    Json(Sink),
}

pub struct Reporter {
    mode: Mode,
    verbose: bool,
    started: Instant,
    done: u64,
    expected: u64,
    building: BTreeMap<String, (String, Option<String>)>,
}

impl Reporter {
    pub fn new(show: &Show) -> Reporter {
        let mode = if show.json {
            Mode::Json(show.results)
        } else if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            Mode::Bar(bar)
        } else {
            Mode::Plain
        };
        Reporter {
            mode,
            verbose: show.verbose,
            started: Instant::now(),
            done: 0,
            expected: 0,
            building: BTreeMap::new(),
        }
    }

    pub fn on(&mut self, event: &BuildEvent) {
        if let Mode::Json(sink) = self.mode {
            if self.verbose || !matches!(event, BuildEvent::Log { .. }) {
                if let Ok(line) = serde_json::to_string(event) {
                    sink.line(line);
                }
            }
            return;
        }
        let line: Option<String> = match event {
            BuildEvent::Stage { name } => Some(format!("{name}…")),
            BuildEvent::Progress { done, expected, .. } => {
                // Nix reports an empty count when it gives up; keep the last real one.
                if *expected == 0 && self.expected > 0 {
                    return;
                }
                // `expected` moves while Nix walks the graph: a line only when one is done.
                let finished_one = *done != self.done;
                self.done = *done;
                self.expected = *expected;
                (finished_one && matches!(self.mode, Mode::Plain))
                    .then(|| format!("{done}/{expected} derivations built"))
            }
            BuildEvent::DerivationStarted { drv, name } => {
                self.building.insert(drv.clone(), (name.clone(), None));
                Some(format!("building {name}"))
            }
            BuildEvent::DerivationFinished { drv } => self
                .building
                .remove(drv)
                .map(|(name, _)| format!("finished {name}")),
            BuildEvent::Phase { drv, phase } => {
                if let Some(entry) = self.building.get_mut(drv) {
                    entry.1 = Some(phase.clone());
                }
                self.verbose
                    .then(|| format!("{}: {phase}", self.name_of(drv)))
            }
            BuildEvent::Log { drv, line } => self.verbose.then(|| match drv {
                Some(drv) => format!(
                    "{}> {}",
                    self.name_of(drv),
                    biar::build::neutralise_log(line)
                ),
                None => biar::build::neutralise_log(line),
            }),
            // Errors (level 0) come once, in the final error message.
            BuildEvent::Message { level, text } => (*level == 1
                || (self.verbose && (1..=3).contains(level)))
            .then(|| biar::build::neutralise_log(text)),
            BuildEvent::Collision {
                file,
                winner,
                others,
            } => Some(biar::build::neutralise_log(
                &biar::build::collisions::describe(file, winner, others),
            )),
            BuildEvent::Layer { .. } | BuildEvent::Done { .. } => None,
        };
        match &self.mode {
            // The spinner prints around our print module: its text goes through the sanitizer
            // here (phases and names are the builder's text).
            Mode::Bar(bar) => {
                if let Some(line) = line {
                    bar.println(crate::cli::print::clean(&line));
                }
                bar.set_message(crate::cli::print::clean(&self.status()));
            }
            Mode::Plain => {
                if let Some(line) = line {
                    errln!("[{:>5.1}s] {line}", self.started.elapsed().as_secs_f64());
                }
            }
            Mode::Json(_) => {}
        }
    }

    fn name_of(&self, drv: &str) -> String {
        self.building
            .get(drv)
            .map(|(n, _)| n.clone())
            .unwrap_or_else(|| biar::build::internal_json::drv_name(drv))
    }

    fn status(&self) -> String {
        let now: Vec<String> = self
            .building
            .values()
            .map(|(name, phase)| match phase {
                Some(p) => format!("{name} ({p})"),
                None => name.clone(),
            })
            .collect();
        if now.is_empty() {
            format!("{}/{} built", self.done, self.expected)
        } else {
            format!(
                "{}/{} built, building {}",
                self.done,
                self.expected,
                now.join(", ")
            )
        }
    }

    pub fn finish(&mut self) {
        if let Mode::Bar(bar) = &self.mode {
            bar.finish_and_clear();
        }
        if !matches!(self.mode, Mode::Json(_)) && self.expected > 0 {
            errln!(
                "{}/{} derivations built, {:.1}s",
                self.done,
                self.expected,
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}
