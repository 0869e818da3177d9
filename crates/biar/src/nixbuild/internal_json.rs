//! Nix's `--log-format internal-json` (stderr lines `@nix {json}`) → [`BuildEvent`]s.
//!
//! Nix reports activities (`start`/`stop`, with a type: 104 builds, 105 build of one
//! derivation, …), results on them (105 progress `[done, expected, running, failed]` on the
//! builds activity, 101 a build log line, 104 a phase change) and messages (`msg`, with a level;
//! 0 is an error). The parser keeps the last lines of each derivation's log so a failure can show
//! them.
//!
//! A builder can print `@nix` lines of its own, which Nix passes on: phases, and messages at any
//! level, an error-looking one included. So which derivation failed is not read from any message:
//! it is the build activity that stops right after Nix's own count of failed builds went up (an
//! untrusted builder can start no build activity and report on none).

use std::collections::{HashMap, VecDeque};

use serde::Deserialize;

use super::tree_events::TreeEvents;
use crate::progress::{neutralise_log, plain_text, BuildEvent};

const ACT_COPY_PATH: u64 = 100;
const ACT_FILE_TRANSFER: u64 = 101;
const ACT_COPY_PATHS: u64 = 103;
const ACT_BUILDS: u64 = 104;
const ACT_BUILD: u64 = 105;
const ACT_SUBSTITUTE: u64 = 108;
const RES_SET_EXPECTED: u64 = 106;
/// A `Downloaded` event at most every this many bytes (Nix reports every chunk).
const DOWNLOAD_STEP: u64 = 256 << 10;
const RES_BUILD_LOG_LINE: u64 = 101;
const RES_SET_PHASE: u64 = 104;
const RES_PROGRESS: u64 = 105;
const RES_POST_BUILD_LOG_LINE: u64 = 107;

/// How many log lines per derivation are kept for error reports.
pub const LOG_TAIL_LINES: usize = 25;
/// A longer build log line becomes several lines of at most this many bytes.
pub const MAX_LOG_LINE: usize = 4096;
/// A longer stderr line is cut into pieces of this many bytes (a `@nix` line that long does not
/// parse, and is dropped like any garbage), so no line costs more than linear work.
pub const MAX_STDERR_LINE: usize = 1 << 20;

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
enum Line {
    Start {
        id: u64,
        #[serde(rename = "type", default)]
        typ: u64,
        #[serde(default)]
        text: String,
        #[serde(default)]
        fields: Vec<serde_json::Value>,
        /// Nix 2.24 and later: the activity this one runs for (0: none).
        #[serde(default)]
        parent: u64,
    },
    Stop {
        id: u64,
    },
    Result {
        id: u64,
        #[serde(rename = "type")]
        typ: u64,
        #[serde(default)]
        fields: Vec<serde_json::Value>,
    },
    Msg {
        level: u8,
        msg: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone)]
struct Activity {
    typ: u64,
    /// The derivation of a build, the store path of a substitution.
    drv: Option<String>,
}

/// Byte counts of file transfers (downloads) and path copies (unpacking) from binary caches.
#[derive(Debug, Default)]
struct Transfers {
    /// Bytes done of each running activity.
    running: HashMap<u64, u64>,
    /// Bytes of the activities that stopped.
    finished: u64,
}

impl Transfers {
    fn total(&self) -> u64 {
        self.finished + self.running.values().sum::<u64>()
    }
    fn stop(&mut self, id: u64) -> bool {
        match self.running.remove(&id) {
            Some(done) => {
                self.finished += done;
                true
            }
            None => false,
        }
    }
}

/// A derivation whose build failed, with the end of its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedBuild {
    pub drv: String,
    pub log_tail: Vec<String>,
}

/// Turns lines of Nix's stderr into events; remembers what an error report needs.
#[derive(Debug, Default)]
pub struct LogParser {
    activities: HashMap<u64, Activity>,
    logs: HashMap<String, VecDeque<String>>,
    last_progress: Option<(u64, u64, u64, u64)>,
    /// Failed builds Nix counted whose build activity has not stopped yet.
    failures_pending: u64,
    /// Builds Nix counted done whose build activity has not stopped yet: a build activity that
    /// stops with neither count risen was given up (another build failed).
    done_pending: u64,
    /// The derivations whose builds failed, in order (from Nix's activities, never from text).
    failed: Vec<String>,
    /// Nix's error messages (level 0), without colours.
    pub errors: Vec<String>,
    /// Plain (non-JSON) stderr lines, the last ones.
    plain: VecDeque<String>,
    downloads: Transfers,
    unpacking: Transfers,
    download_expected: u64,
    /// The last `Downloaded` sent: (bytes, expected, unpacked).
    last_downloaded: (u64, u64, u64),
    last_substitution: Option<(u64, u64)>,
    /// Caches warned about (`cache` + kind), so each cause is said once.
    cache_warned: Vec<String>,
    /// What the build tree needs beyond the counts.
    tree: TreeEvents,
}

impl LogParser {
    pub fn new() -> LogParser {
        LogParser::default()
    }

    /// Parses one stderr line (without its newline) into zero or more events.
    pub fn feed(&mut self, line: &str) -> Vec<BuildEvent> {
        let line = line.trim_end_matches('\r');
        let Some(json) = line.strip_prefix("@nix ") else {
            if line.trim().is_empty() {
                return Vec::new();
            }
            let text = plain_text(line);
            push_bounded(&mut self.plain, text.clone(), LOG_TAIL_LINES);
            return vec![BuildEvent::Message { level: 3, text }];
        };
        let Ok(parsed) = serde_json::from_str::<Line>(json) else {
            return Vec::new();
        };
        match parsed {
            Line::Start {
                id,
                typ,
                text,
                fields,
                parent,
            } => {
                let field = |i: usize| fields.get(i).and_then(|f| f.as_str()).map(str::to_string);
                let placed = self.tree.start(id, typ, parent, field(0));
                let drv = matches!(typ, ACT_BUILD | ACT_SUBSTITUTE)
                    .then(|| field(0))
                    .flatten();
                match typ {
                    ACT_FILE_TRANSFER => {
                        self.downloads.running.insert(id, 0);
                    }
                    ACT_COPY_PATH => {
                        self.unpacking.running.insert(id, 0);
                    }
                    _ => {}
                }
                self.activities.insert(
                    id,
                    Activity {
                        typ,
                        drv: drv.clone(),
                    },
                );
                let mut events = match (typ, drv) {
                    (ACT_BUILD, Some(drv)) => vec![BuildEvent::DerivationStarted {
                        name: drv_name(&drv),
                        drv,
                    }],
                    (ACT_SUBSTITUTE, Some(path)) => vec![BuildEvent::SubstituteStarted {
                        name: drv_name(&path),
                        cache: plain_text(&field(1).unwrap_or_default()),
                        path,
                    }],
                    (ACT_SUBSTITUTE, _) if !text.is_empty() => vec![BuildEvent::Message {
                        level: 3,
                        text: plain_text(&text),
                    }],
                    _ => Vec::new(),
                };
                // Where it sits comes after it exists.
                events.extend(placed);
                events
            }
            Line::Stop { id } => {
                let moved = self.downloads.stop(id) | self.unpacking.stop(id);
                let mut events = self.tree.stop(id);
                events.extend(self.stop(id));
                if moved {
                    events.extend(self.downloaded(true));
                }
                events
            }
            Line::Result { id, typ, fields } => self.result(id, typ, &fields),
            Line::Msg { level, msg } => {
                let text = plain_text(&msg);
                if let Some(events) = self.cache_message(level, &text) {
                    return events;
                }
                if level == 0 {
                    self.errors.push(text.clone());
                }
                let planned = if level == 3 {
                    self.tree.message(&text)
                } else {
                    Vec::new()
                };
                let mut events = vec![BuildEvent::Message { level, text }];
                events.extend(planned);
                events
            }
            Line::Other => Vec::new(),
        }
    }

    fn stop(&mut self, id: u64) -> Vec<BuildEvent> {
        match self.activities.remove(&id) {
            Some(Activity {
                typ: ACT_SUBSTITUTE,
                drv: Some(path),
            }) => vec![BuildEvent::SubstituteFinished { path }],
            Some(Activity {
                typ: ACT_BUILD,
                drv: Some(drv),
            }) => {
                let mut events = Vec::new();
                if self.failures_pending > 0 {
                    self.failures_pending -= 1;
                    self.failed.push(drv.clone());
                    events.push(BuildEvent::DerivationFailed { drv: drv.clone() });
                } else if self.done_pending > 0 {
                    self.done_pending -= 1;
                } else {
                    events.push(BuildEvent::DerivationStopped { drv: drv.clone() });
                }
                events.push(BuildEvent::DerivationFinished { drv });
                events
            }
            _ => Vec::new(),
        }
    }

    /// Nix's messages about a binary cache it cannot use become one [`BuildEvent::CacheWarning`]
    /// per cache and cause (Nix repeats them per retry and per path); `None` for other messages.
    fn cache_message(&mut self, level: u8, text: &str) -> Option<Vec<BuildEvent>> {
        let quoted = |after: &str| -> Option<String> {
            let rest = &text[text.find(after)? + after.len()..];
            Some(rest[..rest.find('\'')?].to_string())
        };
        let (cache, kind, reason) = if text.contains("is not signed by any of the keys in") {
            let cache = quoted("' from '")?;
            (
                cache,
                "signature",
                "its paths are not signed by a key you trust (trusted-public-keys, or the key \
                 your settings give it): refused them, building instead"
                    .to_string(),
            )
        } else if level == 0 && text.starts_with("disabling binary cache '") {
            // Follows the unreachable warning below; Nix's own note, never a build error.
            return Some(Vec::new());
        } else if level <= 1 && text.contains("unable to download '") {
            if text.contains("; retrying in") {
                return Some(Vec::new());
            }
            let url = quoted("unable to download '")?;
            let cache = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
            let cause = text.rsplit_once("': ").map_or(text, |(_, c)| c);
            (
                cache.to_string(),
                "unreachable",
                format!("cannot be reached ({cause}): building what it would have given"),
            )
        } else {
            return None;
        };
        let key = format!("{kind} {cache}");
        if self.cache_warned.contains(&key) {
            return Some(Vec::new());
        }
        self.cache_warned.push(key);
        Some(vec![BuildEvent::CacheWarning { cache, reason }])
    }

    /// A `Downloaded` event when the byte counts moved enough (or `always`, when they moved at
    /// all).
    fn downloaded(&mut self, always: bool) -> Option<BuildEvent> {
        let now = (
            self.downloads.total(),
            self.download_expected,
            self.unpacking.total(),
        );
        let last = self.last_downloaded;
        let moved = now != last
            && (always
                || now.1 != last.1
                || now.0 >= last.0 + DOWNLOAD_STEP
                || now.2 >= last.2 + DOWNLOAD_STEP);
        if !moved {
            return None;
        }
        self.last_downloaded = now;
        Some(BuildEvent::Downloaded {
            bytes: now.0,
            expected: now.1,
            unpacked: now.2,
        })
    }

    fn result(&mut self, id: u64, typ: u64, fields: &[serde_json::Value]) -> Vec<BuildEvent> {
        let activity = self.activities.get(&id).cloned();
        let n = |i: usize| fields.get(i).and_then(|v| v.as_u64()).unwrap_or(0);
        match typ {
            RES_PROGRESS if self.downloads.running.contains_key(&id) => {
                self.downloads.running.insert(id, n(0));
                let mut events: Vec<BuildEvent> = self.downloaded(false).into_iter().collect();
                events.extend(self.tree.progress(id, n(0), n(1)));
                events
            }
            RES_PROGRESS if self.unpacking.running.contains_key(&id) => {
                self.unpacking.running.insert(id, n(0));
                let mut events: Vec<BuildEvent> = self.downloaded(false).into_iter().collect();
                events.extend(self.tree.progress(id, n(0), n(1)));
                events
            }
            RES_PROGRESS if activity.as_ref().is_some_and(|a| a.typ == ACT_COPY_PATHS) => {
                let now = (n(0), n(1));
                if self.last_substitution == Some(now) {
                    return Vec::new();
                }
                self.last_substitution = Some(now);
                vec![BuildEvent::Substitution {
                    done: now.0,
                    expected: now.1,
                }]
            }
            // The realisation's expected bytes: `[101, N]` is the download.
            RES_SET_EXPECTED if n(0) == ACT_FILE_TRANSFER => {
                self.download_expected = n(1);
                self.downloaded(false).into_iter().collect()
            }
            RES_PROGRESS if activity.as_ref().is_some_and(|a| a.typ == ACT_BUILDS) => {
                let n = |i: usize| fields.get(i).and_then(|v| v.as_u64()).unwrap_or(0);
                let progress = (n(0), n(1), n(2), n(3));
                if self.last_progress == Some(progress) {
                    return Vec::new();
                }
                let failed_before = self.last_progress.map_or(0, |p| p.3);
                self.failures_pending += progress.3.saturating_sub(failed_before);
                let done_before = self.last_progress.map_or(0, |p| p.0);
                self.done_pending += progress.0.saturating_sub(done_before);
                self.last_progress = Some(progress);
                vec![BuildEvent::Progress {
                    done: progress.0,
                    expected: progress.1,
                    running: progress.2,
                    failed: progress.3,
                }]
            }
            RES_BUILD_LOG_LINE | RES_POST_BUILD_LOG_LINE => {
                let line = fields.first().and_then(|v| v.as_str()).unwrap_or_default();
                let drv = activity.and_then(|a| a.drv);
                let mut events = Vec::new();
                for piece in split_long(line, MAX_LOG_LINE) {
                    if let Some(drv) = &drv {
                        let log = self.logs.entry(drv.clone()).or_default();
                        push_bounded(log, neutralise_log(piece), LOG_TAIL_LINES);
                    }
                    events.push(BuildEvent::Log {
                        drv: drv.clone(),
                        line: piece.to_string(),
                    });
                }
                events
            }
            // The phase is the builder's own text (`setPhase`): plain, and a name's length.
            RES_SET_PHASE => match (activity.and_then(|a| a.drv), fields.first()) {
                (Some(drv), Some(phase)) => {
                    let phase = phase.as_str().unwrap_or_default();
                    let phase = split_long(phase, 64).next().unwrap_or_default();
                    vec![BuildEvent::Phase {
                        drv,
                        phase: plain_text(phase),
                    }]
                }
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// The first derivation whose build failed, as Nix's own activities say (see the module
    /// documentation), with the last lines of its log. `None` when the failure was not a
    /// derivation's build (e.g. evaluation).
    pub fn failed_build(&self) -> Option<FailedBuild> {
        let drv = self.failed.first()?.clone();
        let log_tail = self
            .logs
            .get(&drv)
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default();
        Some(FailedBuild { drv, log_tail })
    }

    /// The last plain stderr lines (Nix's own, when it did not use the JSON format).
    pub fn plain_tail(&self) -> Vec<String> {
        self.plain.iter().cloned().collect()
    }
}

/// Splits a byte stream into lines for [`LogParser::feed`]; keeps a partial last line. Each byte
/// is looked at once, and a line longer than [`MAX_STDERR_LINE`] comes out in pieces that long,
/// so any input costs linear time and bounded memory.
#[derive(Debug, Default)]
pub struct LineBuffer {
    pending: Vec<u8>,
}

impl LineBuffer {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let room = MAX_STDERR_LINE - self.pending.len();
            let window = &rest[..rest.len().min(room)];
            match memchr::memchr(b'\n', window) {
                Some(pos) => {
                    self.pending.extend_from_slice(&window[..pos]);
                    rest = &rest[pos + 1..];
                    lines.push(self.take());
                }
                None => {
                    self.pending.extend_from_slice(window);
                    rest = &rest[window.len()..];
                    if self.pending.len() == MAX_STDERR_LINE {
                        lines.push(self.take());
                    }
                }
            }
        }
        lines
    }

    fn take(&mut self) -> String {
        let line = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        line
    }

    pub fn finish(&mut self) -> Option<String> {
        (!self.pending.is_empty())
            .then(|| String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned())
    }
}

fn push_bounded(buf: &mut VecDeque<String>, line: String, max: usize) {
    if buf.len() == max {
        buf.pop_front();
    }
    buf.push_back(line);
}

/// `/nix/store/<hash>-hello-2.12.1.drv` → `hello-2.12.1`.
pub fn drv_name(drv: &str) -> String {
    let base = drv.rsplit('/').next().unwrap_or(drv);
    let base = base.strip_suffix(".drv").unwrap_or(base);
    match base.split_once('-') {
        Some((hash, name)) if hash.len() == 32 => name.to_string(),
        _ => base.to_string(),
    }
}

/// `text` in pieces of at most `max` bytes, cut at character boundaries; an empty text is one
/// empty piece.
fn split_long(text: &str, max: usize) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        if text.len() <= max {
            rest = None;
            return Some(text);
        }
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        rest = Some(&text[cut..]);
        Some(&text[..cut])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/../../tests/fixtures/logs/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn parse(name: &str) -> (LogParser, Vec<BuildEvent>) {
        let mut parser = LogParser::new();
        let events = fixture(name).lines().flat_map(|l| parser.feed(l)).collect();
        (parser, events)
    }

    #[test]
    fn a_recorded_substitution_gives_paths_bytes_and_no_builds() {
        // Recorded: a fresh store fetching hello's closure (3 paths) from an nginx cache.
        let (parser, events) = parse("cache-subst.stderr");
        let started: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                BuildEvent::SubstituteStarted { name, cache, .. } => {
                    assert_eq!(cache, "http://127.0.0.1:18931");
                    Some(name.as_str())
                }
                _ => None,
            })
            .collect();
        assert_eq!(started, ["busybox-1.35.0", "shell-1.0", "hello-2.12.1"]);
        let finished = events
            .iter()
            .filter(|e| matches!(e, BuildEvent::SubstituteFinished { .. }))
            .count();
        assert_eq!(finished, 3);
        assert!(!events
            .iter()
            .any(|e| matches!(e, BuildEvent::DerivationStarted { .. })));
        assert!(events.contains(&BuildEvent::Substitution {
            done: 3,
            expected: 3
        }));
        let last = events
            .iter()
            .rev()
            .find_map(|e| match e {
                BuildEvent::Downloaded {
                    bytes,
                    expected,
                    unpacked,
                } => Some((*bytes, *expected, *unpacked)),
                _ => None,
            })
            .unwrap();
        // The NARs (880108 bytes expected) plus the cache's small files.
        assert_eq!(last.1, 880108);
        assert!(last.0 >= 880108, "{last:?}");
        // Nix reports unpacking in steps; the last step may fall short of the closure's 2045440.
        assert!(last.2 > 1_000_000 && last.2 <= 2045440, "{last:?}");
        assert!(parser.errors.is_empty());
    }

    #[test]
    fn an_untrusted_or_unreachable_cache_is_one_warning_naming_the_cause() {
        let (parser, events) = parse("cache-bad.stderr");
        let warnings: Vec<&BuildEvent> = events
            .iter()
            .filter(|e| matches!(e, BuildEvent::CacheWarning { .. }))
            .collect();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let BuildEvent::CacheWarning { cache, reason } = warnings[0] else {
            unreachable!()
        };
        assert_eq!(cache, "http://127.0.0.1:18931");
        assert!(reason.contains("not signed by a key you trust"), "{reason}");
        assert!(events
            .iter()
            .any(|e| matches!(e, BuildEvent::DerivationStarted { .. })));
        assert!(parser.errors.is_empty());

        let (parser, events) = parse("cache-down.stderr");
        let warnings: Vec<&BuildEvent> = events
            .iter()
            .filter(|e| matches!(e, BuildEvent::CacheWarning { .. }))
            .collect();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let BuildEvent::CacheWarning { cache, reason } = warnings[0] else {
            unreachable!()
        };
        assert_eq!(cache, "http://127.0.0.1:1");
        assert!(reason.contains("Couldn't connect to server"), "{reason}");
        // "disabling binary cache" (level 0) is no error of the build.
        assert!(parser.errors.is_empty(), "{:?}", parser.errors);
        assert!(!events
            .iter()
            .any(|e| matches!(e, BuildEvent::Message { level: 0..=1, .. })));
    }

    #[test]
    fn a_recorded_build_gives_progress_phases_and_log_lines() {
        let (parser, events) = parse("chatty.stderr");
        let drv = "/nix/store/8as08yr8vdlgansfykda3vp7mcsx41wd-chatty-1.0.drv";
        assert!(events.contains(&BuildEvent::DerivationStarted {
            drv: drv.into(),
            name: "chatty-1.0".into()
        }));
        let phases: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                BuildEvent::Phase { phase, .. } => Some(phase.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            phases,
            [
                "unpackPhase",
                "configurePhase",
                "buildPhase",
                "installPhase"
            ]
        );
        let logs = events
            .iter()
            .filter(|e| matches!(e, BuildEvent::Log { drv: Some(_), .. }))
            .count();
        assert_eq!(logs, 200);
        let progress: Vec<(u64, u64)> = events
            .iter()
            .filter_map(|e| match e {
                BuildEvent::Progress { done, expected, .. } => Some((*done, *expected)),
                _ => None,
            })
            .collect();
        assert_eq!(progress.first(), Some(&(0, 1)));
        assert_eq!(progress.last(), Some(&(1, 1)));
        assert!(events.contains(&BuildEvent::DerivationFinished { drv: drv.into() }));
        assert!(parser.errors.is_empty());
        assert_eq!(parser.failed_build(), None);
    }

    #[test]
    fn a_recorded_failure_names_the_derivation_and_its_last_log_lines() {
        let (parser, events) = parse("failing.stderr");
        assert!(events
            .iter()
            .any(|e| matches!(e, BuildEvent::Progress { failed: 1, .. })));
        let failed = parser.failed_build().unwrap();
        assert_eq!(
            failed.drv,
            "/nix/store/q5hjqamvdc48spnwaq7032iaf3r3pcfg-failing-1.0.drv"
        );
        assert_eq!(
            failed.log_tail,
            [
                "configuring failing-1.0",
                "compiling main.c",
                "main.c:3:1: error: expected ';' before '}' token"
            ]
        );
        assert_eq!(parser.errors.len(), 1);
        assert!(parser.errors[0].starts_with("error: builder for '/nix/store/"));
        assert!(!parser.errors[0].contains('\u{1b}'));
    }

    #[test]
    fn a_recorded_environment_build_reports_each_derivation_and_the_counts() {
        // buildEnv of two fresh sleepers and an already built hello.
        let (parser, events) = parse("env.stderr");
        let started: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                BuildEvent::DerivationStarted { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(started, ["sleeper-1s", "sleeper-1s", "biar-env"]);
        let done: Vec<u64> = events
            .iter()
            .filter_map(|e| match e {
                BuildEvent::Progress { done, .. } => Some(*done),
                _ => None,
            })
            .collect();
        assert!(done.windows(2).all(|w| w[0] <= w[1]), "{done:?}");
        assert_eq!(
            events
                .iter()
                .rev()
                .find(|e| matches!(e, BuildEvent::Progress { .. })),
            Some(&BuildEvent::Progress {
                done: 3,
                expected: 3,
                running: 0,
                failed: 0
            })
        );
        let sleeper_logs = events
            .iter()
            .filter(|e| {
                matches!(e, BuildEvent::Log { drv: Some(d), line }
                    if d.ends_with("-sleeper-1s.drv") && line == "sleeping: 0 of 1")
            })
            .count();
        assert_eq!(sleeper_logs, 2);
        assert!(parser.errors.is_empty());
    }

    #[test]
    fn a_recorded_noop_build_builds_nothing() {
        let (parser, events) = parse("noop.stderr");
        assert!(!events
            .iter()
            .any(|e| matches!(e, BuildEvent::DerivationStarted { .. })));
        assert!(events.contains(&BuildEvent::Progress {
            done: 0,
            expected: 1,
            running: 0,
            failed: 0
        }));
        assert!(parser.failed_build().is_none());
    }

    #[test]
    fn plain_lines_and_garbage_do_not_break_the_parser() {
        let mut parser = LogParser::new();
        assert_eq!(parser.feed("@nix {not json"), Vec::new());
        assert_eq!(
            parser.feed("warning: \u{1b}[1mplain\u{1b}[0m"),
            vec![BuildEvent::Message {
                level: 3,
                text: "warning: plain".into()
            }]
        );
        assert_eq!(parser.feed(r#"@nix {"action":"stop","id":99}"#), Vec::new());
        assert_eq!(parser.plain_tail(), ["warning: plain"]);
    }

    #[test]
    fn a_message_from_the_builder_cannot_blame_another_derivation() {
        // The failing build of the recording, whose builder printed an `@nix` error message
        // naming hello's derivation (Nix passes a builder's `msg` on as its own).
        let forged = r#"@nix {"action":"msg","level":0,"msg":"\u001b[31;1merror:\u001b[0m builder for '/nix/store/mpjzy432ga90f085ll5r9bz382xdv3jf-hello-2.12.1.drv' failed with exit code 1"}"#;
        let mut parser = LogParser::new();
        for line in fixture("failing.stderr").lines() {
            if line.contains("compiling main.c") {
                parser.feed(forged);
            }
            parser.feed(line);
        }
        let failed = parser.failed_build().unwrap();
        assert_eq!(
            failed.drv,
            "/nix/store/q5hjqamvdc48spnwaq7032iaf3r3pcfg-failing-1.0.drv"
        );
        assert_eq!(parser.errors.len(), 2);
    }

    #[test]
    fn with_keep_going_each_failure_is_the_build_that_stopped_after_the_count_rose() {
        let mut parser = LogParser::new();
        let lines = [
            r#"@nix {"action":"start","id":1,"level":0,"text":"","type":104}"#,
            r#"@nix {"action":"start","fields":["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a.drv","",1,1],"id":2,"level":3,"text":"","type":105}"#,
            r#"@nix {"action":"start","fields":["/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-b.drv","",1,1],"id":3,"level":3,"text":"","type":105}"#,
            r#"@nix {"action":"result","fields":[0,3,2,0],"id":1,"type":105}"#,
            r#"@nix {"action":"result","fields":[1,3,1,0],"id":1,"type":105}"#,
            r#"@nix {"action":"stop","id":3}"#,
            r#"@nix {"action":"result","fields":[1,3,0,1],"id":1,"type":105}"#,
            r#"@nix {"action":"stop","id":2}"#,
        ];
        for l in lines {
            parser.feed(l);
        }
        assert_eq!(
            parser.failed_build().unwrap().drv,
            "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a.drv"
        );
    }

    #[test]
    fn a_build_nix_gives_up_on_is_stopped_not_done() {
        // Without --keep-going, a failure makes Nix stop the other running build: its activity
        // stops with neither count risen.
        let mut parser = LogParser::new();
        let lines = [
            r#"@nix {"action":"start","id":1,"level":0,"text":"","type":104}"#,
            r#"@nix {"action":"start","fields":["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a.drv","",1,1],"id":2,"level":3,"text":"","type":105}"#,
            r#"@nix {"action":"start","fields":["/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-b.drv","",1,1],"id":3,"level":3,"text":"","type":105}"#,
            r#"@nix {"action":"result","fields":[0,2,2,0],"id":1,"type":105}"#,
            r#"@nix {"action":"result","fields":[0,0,0,1],"id":1,"type":105}"#,
            r#"@nix {"action":"stop","id":2}"#,
            r#"@nix {"action":"stop","id":3}"#,
        ];
        let events: Vec<BuildEvent> = lines.iter().flat_map(|l| parser.feed(l)).collect();
        let a = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a.drv";
        let b = "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-b.drv";
        assert!(events.contains(&BuildEvent::DerivationFailed { drv: a.into() }));
        assert!(events.contains(&BuildEvent::DerivationStopped { drv: b.into() }));
        let (_, events) = parse("env.stderr");
        assert!(!events
            .iter()
            .any(|e| matches!(e, BuildEvent::DerivationStopped { .. })));
        let (_, events) = parse("chatty.stderr");
        assert!(!events
            .iter()
            .any(|e| matches!(e, BuildEvent::DerivationStopped { .. })));
    }

    #[test]
    fn builder_text_reaches_events_without_control_sequences() {
        let mut parser = LogParser::new();
        parser.feed(r#"@nix {"action":"start","fields":["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a.drv","",1,1],"id":2,"level":3,"text":"","type":105}"#);
        let phase = parser.feed(
            r#"@nix {"action":"result","fields":["build\u001b]52;c;cHduZWQ=\u0007Phase\u009b2J"],"id":2,"type":104}"#,
        );
        assert_eq!(
            phase,
            [BuildEvent::Phase {
                drv: "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a.drv".into(),
                phase: "buildPhase".into()
            }]
        );
        let msg = parser.feed(
            r#"@nix {"action":"msg","level":0,"msg":"error: \u001b]0;owned\u0007x\u0007\u009d0;t\u009c"}"#,
        );
        assert_eq!(
            msg,
            [BuildEvent::Message {
                level: 0,
                text: "error: x".into()
            }]
        );
    }

    #[test]
    fn a_huge_log_line_comes_out_in_pieces() {
        // 10 MB in one line, in 64 KiB chunks: pieces of the stderr cap, then log lines of the
        // log cap; nothing lost of a plain line, nothing kept beyond the caps.
        let mut buf = LineBuffer::default();
        let chunk = vec![b'x'; 64 * 1024];
        let mut lines = Vec::new();
        for _ in 0..160 {
            lines.extend(buf.push(&chunk));
        }
        lines.extend(buf.push(b"\nafter\n"));
        assert!(lines[..lines.len() - 1]
            .iter()
            .all(|l| l.len() <= MAX_STDERR_LINE));
        assert_eq!(
            lines[..lines.len() - 1]
                .iter()
                .map(String::len)
                .sum::<usize>(),
            160 * 64 * 1024
        );
        assert_eq!(lines.last().map(String::as_str), Some("after"));
        assert!(buf.finish().is_none());

        let mut parser = LogParser::new();
        parser.feed(r#"@nix {"action":"start","fields":["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a.drv","",1,1],"id":2,"level":3,"text":"","type":105}"#);
        let long = "é".repeat(300_000);
        let events = parser.feed(&format!(
            r#"@nix {{"action":"result","fields":["{long}"],"id":2,"type":101}}"#
        ));
        assert!(events.len() > 100);
        let mut joined = String::new();
        for e in &events {
            let BuildEvent::Log { line, .. } = e else {
                panic!("{e:?}")
            };
            assert!(line.len() <= MAX_LOG_LINE);
            joined.push_str(line);
        }
        assert_eq!(joined, long);
    }

    #[test]
    fn line_buffer_joins_chunks_and_keeps_the_partial_line() {
        let mut buf = LineBuffer::default();
        assert_eq!(buf.push(b"ab"), Vec::<String>::new());
        assert_eq!(buf.push(b"c\nde\nf"), ["abc", "de"]);
        assert_eq!(buf.finish().as_deref(), Some("f"));
    }

    #[test]
    fn derivation_names_drop_hash_and_suffix() {
        assert_eq!(
            drv_name("/nix/store/8as08yr8vdlgansfykda3vp7mcsx41wd-chatty-1.0.drv"),
            "chatty-1.0"
        );
    }
}
