//! Nix's `--log-format internal-json` (stderr lines `@nix {json}`) → [`BuildEvent`]s.
//!
//! Nix reports activities (`start`/`stop`, with a type: 104 builds, 105 build of one
//! derivation, …), results on them (105 progress `[done, expected, running, failed]` on the
//! builds activity, 101 a build log line, 104 a phase change) and messages (`msg`, with a level;
//! 0 is an error). The parser keeps the last lines of each derivation's log so a failure can show
//! them.

use std::collections::{HashMap, VecDeque};

use serde::Deserialize;

use crate::progress::BuildEvent;

const ACT_BUILDS: u64 = 104;
const ACT_BUILD: u64 = 105;
const ACT_SUBSTITUTE: u64 = 108;
const RES_BUILD_LOG_LINE: u64 = 101;
const RES_SET_PHASE: u64 = 104;
const RES_PROGRESS: u64 = 105;
const RES_POST_BUILD_LOG_LINE: u64 = 107;

/// How many log lines per derivation are kept for error reports.
pub const LOG_TAIL_LINES: usize = 25;

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
    drv: Option<String>,
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
    /// Nix's error messages (level 0), without colours.
    pub errors: Vec<String>,
    /// Plain (non-JSON) stderr lines, the last ones.
    plain: VecDeque<String>,
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
            push_bounded(&mut self.plain, strip_ansi(line), LOG_TAIL_LINES);
            return vec![BuildEvent::Message {
                level: 3,
                text: strip_ansi(line),
            }];
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
            } => {
                let drv = (typ == ACT_BUILD)
                    .then(|| fields.first().and_then(|f| f.as_str()).map(str::to_string))
                    .flatten();
                self.activities.insert(
                    id,
                    Activity {
                        typ,
                        drv: drv.clone(),
                    },
                );
                match (typ, drv) {
                    (ACT_BUILD, Some(drv)) => vec![BuildEvent::DerivationStarted {
                        name: drv_name(&drv),
                        drv,
                    }],
                    (ACT_SUBSTITUTE, _) if !text.is_empty() => vec![BuildEvent::Message {
                        level: 3,
                        text: strip_ansi(&text),
                    }],
                    _ => Vec::new(),
                }
            }
            Line::Stop { id } => match self.activities.remove(&id) {
                Some(Activity {
                    typ: ACT_BUILD,
                    drv: Some(drv),
                }) => vec![BuildEvent::DerivationFinished { drv }],
                _ => Vec::new(),
            },
            Line::Result { id, typ, fields } => self.result(id, typ, &fields),
            Line::Msg { level, msg } => {
                let text = strip_ansi(&msg);
                if level == 0 {
                    self.errors.push(text.clone());
                }
                vec![BuildEvent::Message { level, text }]
            }
            Line::Other => Vec::new(),
        }
    }

    fn result(&mut self, id: u64, typ: u64, fields: &[serde_json::Value]) -> Vec<BuildEvent> {
        let activity = self.activities.get(&id).cloned();
        match typ {
            RES_PROGRESS if activity.as_ref().is_some_and(|a| a.typ == ACT_BUILDS) => {
                let n = |i: usize| fields.get(i).and_then(|v| v.as_u64()).unwrap_or(0);
                let progress = (n(0), n(1), n(2), n(3));
                if self.last_progress == Some(progress) {
                    return Vec::new();
                }
                self.last_progress = Some(progress);
                vec![BuildEvent::Progress {
                    done: progress.0,
                    expected: progress.1,
                    running: progress.2,
                    failed: progress.3,
                }]
            }
            RES_BUILD_LOG_LINE | RES_POST_BUILD_LOG_LINE => {
                let line = fields
                    .first()
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string();
                let drv = activity.and_then(|a| a.drv);
                if let Some(drv) = &drv {
                    let log = self.logs.entry(drv.clone()).or_default();
                    push_bounded(log, line.clone(), LOG_TAIL_LINES);
                }
                vec![BuildEvent::Log { drv, line }]
            }
            RES_SET_PHASE => match (activity.and_then(|a| a.drv), fields.first()) {
                (Some(drv), Some(phase)) => vec![BuildEvent::Phase {
                    drv,
                    phase: phase.as_str().unwrap_or_default().to_string(),
                }],
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// The derivation that failed, from Nix's error ("builder for '…drv' failed"), with the last
    /// lines of its log. `None` when the failure was not a derivation's (e.g. evaluation).
    pub fn failed_build(&self) -> Option<FailedBuild> {
        let drv = self.errors.iter().find_map(|e| failed_drv_in(e))?;
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

/// Splits a byte stream into lines for [`LogParser::feed`]; keeps a partial last line.
#[derive(Debug, Default)]
pub struct LineBuffer {
    pending: Vec<u8>,
}

impl LineBuffer {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        let mut lines = Vec::new();
        while let Some(pos) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=pos).collect();
            lines.push(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
        }
        lines
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

fn failed_drv_in(error: &str) -> Option<String> {
    let start = error.find("/nix/store/")?;
    let rest = &error[start..];
    let end = rest.find(".drv")? + 4;
    error.contains("failed").then(|| rest[..end].to_string())
}

/// Removes terminal escape sequences (Nix colours its messages).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
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
