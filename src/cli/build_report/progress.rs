//! The pipeline's progress, rendered from the library's [`Tally`]: counts, what builds now and its
//! phase, elapsed time, logs under -v during the Nix build; then the layers sent by a push.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use biar::progress::{BuildEvent, BuildTree, Stage, Tally};
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
    tally: Tally,
    /// The derivations as a tree with times: under -v a line each time one changes state.
    tree: BuildTree,
    /// The Nix build's summary is out: the image steps follow.
    nix_over: bool,
    /// When the first bytes came from a binary cache (for the rate).
    fetch_started: Option<Instant>,
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
            tally: Tally::default(),
            tree: BuildTree::new(),
            nix_over: false,
            fetch_started: None,
        }
    }

    pub fn on(&mut self, event: &BuildEvent) {
        let before = self.tally.clone();
        self.tally.on(event);
        let changed = self.tree.on(event, self.started.elapsed());
        if let Mode::Json(sink) = self.mode {
            // The delivered reference is the result lines' to say.
            let shown = match event {
                BuildEvent::Log { .. } => self.verbose,
                BuildEvent::Done { .. } => false,
                _ => true,
            };
            if shown {
                if let Ok(line) = serde_json::to_string(event) {
                    sink.line(line);
                }
            }
            return;
        }
        if let BuildEvent::Downloaded { .. } = event {
            self.fetch_started.get_or_insert_with(Instant::now);
        }
        if self.nix_over {
            self.on_image(event);
            return;
        }
        if self.verbose {
            for i in changed {
                self.print(Some(self.tree_line(i)));
            }
        }
        let line: Option<String> = match event {
            // Under -v the tree's lines say these.
            BuildEvent::DerivationStarted { .. }
            | BuildEvent::DerivationFinished { .. }
            | BuildEvent::SubstituteStarted { .. }
                if self.verbose =>
            {
                None
            }
            BuildEvent::Stage { name } => Some(format!("{name}…")),
            BuildEvent::Progress { done, .. } => {
                // `expected` moves while Nix walks the graph: a line only when one is done.
                let finished_one = self.tally.counted.0 != before.counted.0;
                (finished_one && matches!(self.mode, Mode::Plain))
                    .then(|| format!("{done}/{} derivations built", self.tally.counted.1))
            }
            BuildEvent::DerivationStarted { name, .. } => Some(format!("building {name}")),
            BuildEvent::DerivationFinished { drv } => {
                before.name_of(drv).map(|name| format!("finished {name}"))
            }
            BuildEvent::Phase { drv, phase } => self
                .verbose
                .then(|| format!("{}: {phase}", self.name_of(drv))),
            BuildEvent::Log { drv, line } => self.verbose.then(|| match drv {
                Some(drv) => format!(
                    "{}> {}",
                    self.name_of(drv),
                    biar::progress::neutralise_log(line)
                ),
                None => biar::progress::neutralise_log(line),
            }),
            // Errors (level 0) come once, in the final error message.
            BuildEvent::Message { level, text } => (*level == 1
                || (self.verbose && (1..=3).contains(level)))
            .then(|| biar::progress::neutralise_log(text)),
            BuildEvent::Collision {
                file,
                winner,
                others,
            } => Some(biar::progress::neutralise_log(
                &biar::progress::describe_collision(file, winner, others),
            )),
            BuildEvent::Builder { text } => Some(biar::progress::neutralise_log(text)),
            BuildEvent::SubstituteStarted { name, cache, .. } => {
                Some(format!("fetching {name} from {cache}"))
            }
            BuildEvent::Substitution { .. } | BuildEvent::Downloaded { .. } => None,
            BuildEvent::SubstituteFinished { .. } => None,
            BuildEvent::CacheWarning { .. } | BuildEvent::CachePushed { .. } => cache_line(event),
            BuildEvent::Layer { .. } | BuildEvent::Done { .. } => None,
            BuildEvent::Planned { .. }
            | BuildEvent::Under { .. }
            | BuildEvent::Fetching { .. }
            | BuildEvent::DerivationFailed { .. }
            | BuildEvent::DerivationStopped { .. } => None,
        };
        self.print(line);
    }

    /// Node `i`'s line of the tree, indented by its depth; the root's says the ETA while it runs.
    fn tree_line(&self, i: usize) -> String {
        let mut line = self.tree.line(i, self.tree.depth(i));
        if i == 0 && self.tree.root().state.running() {
            line.push_str(&format!("  {}", self.tree.eta()));
        }
        line
    }

    /// A progress line (timed when plain), and the spinner's status.
    fn print(&self, line: Option<String>) {
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

    /// After the Nix build only a push's sent layers and the binary cache upload get a line
    /// (the results say the rest).
    fn on_image(&self, event: &BuildEvent) {
        if let Some(line) = cache_line(event) {
            errln!("{}", biar::progress::neutralise_text(&line));
            return;
        }
        if let BuildEvent::Layer {
            index,
            total,
            digest,
            size,
            reused: false,
        } = event
        {
            if self.tally.stage == Some(Stage::Push) {
                errln!(
                    "  sent layer {}/{total} {} ({:.1} MB)",
                    index + 1,
                    &digest[..digest.len().min(19)],
                    *size as f64 / 1e6
                );
            }
        }
    }

    fn name_of(&self, drv: &str) -> String {
        self.tally
            .name_of(drv)
            .map(str::to_string)
            .unwrap_or_else(|| biar::nixbuild::internal_json::drv_name(drv))
    }

    fn status(&self) -> String {
        let now: Vec<String> = self
            .tally
            .building
            .iter()
            .map(|b| match &b.phase {
                Some(p) => format!("{} ({p})", b.name),
                None => b.name.clone(),
            })
            .collect();
        let (done, expected) = self.tally.counted;
        let mut status = if now.is_empty() {
            format!("{done}/{expected} built")
        } else {
            format!("{done}/{expected} built, building {}", now.join(", "))
        };
        if let Some(fetched) = self.fetch_summary() {
            status.push_str(", ");
            status.push_str(&fetched);
        }
        status
    }

    /// `2/5 fetched, 1.0/3.0 MB downloaded, 4.2 MB/s`, once a binary cache gave anything.
    fn fetch_summary(&self) -> Option<String> {
        let mut text = self.tally.substitution_summary()?;
        if let Some(since) = self.fetch_started {
            let secs = since.elapsed().as_secs_f64();
            if secs > 0.05 {
                let rate = self.tally.fetched_bytes() as f64 / 1e6 / secs;
                text.push_str(&format!(", {rate:.1} MB/s"));
            }
        }
        Some(text)
    }

    /// The Nix build is over: its summary line (once).
    pub fn finish(&mut self) {
        if self.nix_over {
            return;
        }
        self.nix_over = true;
        if let Mode::Bar(bar) = &self.mode {
            bar.finish_and_clear();
        }
        let (done, expected) = self.tally.counted;
        if !matches!(self.mode, Mode::Json(_)) && expected > 0 {
            errln!(
                "{done}/{expected} derivations built, {:.1}s",
                self.started.elapsed().as_secs_f64()
            );
        }
        if !matches!(self.mode, Mode::Json(_)) {
            if let Some(fetched) = self.fetch_summary() {
                errln!("from binary caches: {fetched}");
            }
        }
    }
}

/// The line of a binary cache's warning or upload (the cache's URL and Nix's words are not
/// ours: the caller neutralises).
fn cache_line(event: &BuildEvent) -> Option<String> {
    match event {
        BuildEvent::CacheWarning { cache, reason } => {
            Some(format!("warning: binary cache {cache}: {reason}"))
        }
        BuildEvent::CachePushed { cache, paths } => {
            Some(format!("uploaded {paths} new paths (signed) to {cache}"))
        }
        _ => None,
    }
}
