//! The fold every front end renders: what the events of a pipeline add up to so far.

use super::{BuildEvent, Stage};

/// A derivation building now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Building {
    pub drv: String,
    pub name: String,
    /// Its current phase (`buildPhase`…), once Nix said.
    pub phase: Option<String>,
}

/// Counts and state of one pipeline run, folded from its events by [`Tally::on`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// The stage under way (none before the first event).
    pub stage: Option<Stage>,
    /// Derivations done / expected / running / failed, as Nix last said.
    pub done: u64,
    pub expected: u64,
    pub running: u64,
    pub failed: u64,
    /// Derivations done / expected of Nix's last real count: Nix reports an empty count when it
    /// gives up, which does not replace this one.
    pub counted: (u64, u64),
    /// Derivations building now, oldest first.
    pub building: Vec<Building>,
    /// Layers of the current image stage (`layers`, `load` or `push`; each starts over):
    /// reported, sent (with their bytes) and reused.
    pub layers_total: usize,
    pub layers_sent: usize,
    pub layers_reused: usize,
    pub bytes_sent: u64,
    /// Paths being fetched from a binary cache now, oldest first (`drv` is the store path).
    pub substituting: Vec<Building>,
    /// Paths fetched from binary caches / expected, as Nix last said.
    pub substituted: (u64, u64),
    /// Bytes downloaded from binary caches / expected, and the store bytes they unpacked to.
    pub downloaded: (u64, u64),
    pub unpacked: u64,
    /// Warnings about binary caches, once each (`cache: reason`).
    pub cache_warnings: Vec<String>,
    /// The image reference the pipeline delivered, once done.
    pub done_reference: Option<String>,
}

impl Tally {
    /// Adds `event`; returns whether it changed a count or the stage (logs and messages do not).
    pub fn on(&mut self, event: &BuildEvent) -> bool {
        match event {
            BuildEvent::Stage { name } => {
                self.stage = Some(*name);
                if matches!(name, Stage::Layers | Stage::Load | Stage::Push) {
                    (self.layers_total, self.layers_sent, self.layers_reused) = (0, 0, 0);
                    self.bytes_sent = 0;
                }
            }
            BuildEvent::Progress {
                done,
                expected,
                running,
                failed,
            } => {
                (self.done, self.expected) = (*done, *expected);
                (self.running, self.failed) = (*running, *failed);
                if *expected > 0 || self.counted.1 == 0 {
                    self.counted = (*done, *expected);
                }
            }
            BuildEvent::DerivationStarted { drv, name } => self.building.push(Building {
                drv: drv.clone(),
                name: name.clone(),
                phase: None,
            }),
            BuildEvent::DerivationFinished { drv } => self.building.retain(|b| &b.drv != drv),
            BuildEvent::Phase { drv, phase } => {
                if let Some(b) = self.building.iter_mut().find(|b| &b.drv == drv) {
                    b.phase = Some(phase.clone());
                }
            }
            BuildEvent::Layer {
                total,
                size,
                reused,
                ..
            } => {
                self.layers_total = *total;
                if *reused {
                    self.layers_reused += 1;
                } else {
                    self.layers_sent += 1;
                    self.bytes_sent += size;
                }
            }
            BuildEvent::SubstituteStarted { path, name, .. } => self.substituting.push(Building {
                drv: path.clone(),
                name: name.clone(),
                phase: None,
            }),
            BuildEvent::SubstituteFinished { path } => self.substituting.retain(|b| &b.drv != path),
            BuildEvent::Substitution { done, expected } => self.substituted = (*done, *expected),
            BuildEvent::Downloaded {
                bytes,
                expected,
                unpacked,
            } => {
                self.downloaded = (*bytes, *expected);
                self.unpacked = *unpacked;
            }
            BuildEvent::CacheWarning { cache, reason } => {
                let text = format!("{cache}: {reason}");
                if self.cache_warnings.contains(&text) {
                    return false;
                }
                self.cache_warnings.push(text);
            }
            BuildEvent::CachePushed { .. } => return false,
            BuildEvent::Done { reference } => self.done_reference = Some(reference.clone()),
            // The build tree's to fold (see `BuildTree`).
            BuildEvent::Planned { .. }
            | BuildEvent::Under { .. }
            | BuildEvent::Fetching { .. }
            | BuildEvent::DerivationFailed { .. }
            | BuildEvent::DerivationStopped { .. } => return false,
            BuildEvent::Log { .. }
            | BuildEvent::Message { .. }
            | BuildEvent::Collision { .. }
            | BuildEvent::Builder { .. } => return false,
        }
        true
    }

    /// The readable name of a derivation building now, else the one in its store path.
    pub fn name_of(&self, drv: &str) -> Option<&str> {
        self.building
            .iter()
            .find(|b| b.drv == drv)
            .map(|b| b.name.as_str())
    }

    /// The bytes that measure a substitution's speed: downloaded, or unpacked when nothing was
    /// downloaded (a `file://` cache).
    pub fn fetched_bytes(&self) -> u64 {
        if self.downloaded.0 > 0 {
            self.downloaded.0
        } else {
            self.unpacked
        }
    }

    /// `3/5 fetched, 1.2/4.0 MB downloaded`, or `None` before any substitution.
    pub fn substitution_summary(&self) -> Option<String> {
        let (done, expected) = self.substituted;
        if expected == 0 && self.substituting.is_empty() {
            return None;
        }
        let mb = |b: u64| b as f64 / 1e6;
        let (bytes, of) = self.downloaded;
        Some(if of > 0 {
            format!(
                "{done}/{expected} fetched, {:.1}/{:.1} MB downloaded",
                mb(bytes),
                mb(of)
            )
        } else {
            format!(
                "{done}/{expected} fetched, {:.1} MB",
                mb(self.fetched_bytes())
            )
        })
    }

    /// Layers of the current stage reported so far (sent or reused).
    pub fn layers_seen(&self) -> usize {
        self.layers_sent + self.layers_reused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_a_run() {
        let mut t = Tally::default();
        let events = [
            BuildEvent::Stage { name: Stage::Build },
            BuildEvent::Progress {
                done: 1,
                expected: 3,
                running: 1,
                failed: 0,
            },
            BuildEvent::DerivationStarted {
                drv: "/nix/store/x-a.drv".into(),
                name: "a".into(),
            },
            BuildEvent::Phase {
                drv: "/nix/store/x-a.drv".into(),
                phase: "buildPhase".into(),
            },
            BuildEvent::Progress {
                done: 0,
                expected: 0,
                running: 0,
                failed: 0,
            },
            BuildEvent::Stage { name: Stage::Push },
            BuildEvent::Layer {
                index: 0,
                total: 2,
                digest: "sha256:00".into(),
                size: 5,
                reused: false,
            },
            BuildEvent::Layer {
                index: 1,
                total: 2,
                digest: "sha256:01".into(),
                size: 7,
                reused: true,
            },
        ];
        for e in &events {
            t.on(e);
        }
        assert_eq!((t.done, t.expected, t.running), (0, 0, 0));
        assert_eq!(t.counted, (1, 3));
        assert_eq!(t.stage, Some(Stage::Push));
        assert_eq!(t.building[0].phase.as_deref(), Some("buildPhase"));
        assert_eq!(t.name_of("/nix/store/x-a.drv"), Some("a"));
        assert_eq!((t.layers_sent, t.layers_reused, t.bytes_sent), (1, 1, 5));
        assert_eq!(t.layers_seen(), 2);
    }

    #[test]
    fn folds_substitutions() {
        let mut t = Tally::default();
        assert_eq!(t.substitution_summary(), None);
        let p = "/nix/store/x-hello-1";
        for e in [
            BuildEvent::Substitution {
                done: 0,
                expected: 2,
            },
            BuildEvent::SubstituteStarted {
                path: p.into(),
                name: "hello-1".into(),
                cache: "http://c".into(),
            },
            BuildEvent::Downloaded {
                bytes: 500_000,
                expected: 2_000_000,
                unpacked: 900_000,
            },
        ] {
            assert!(t.on(&e));
        }
        assert_eq!(t.substituting[0].name, "hello-1");
        assert_eq!(
            t.substitution_summary().unwrap(),
            "0/2 fetched, 0.5/2.0 MB downloaded"
        );
        t.on(&BuildEvent::SubstituteFinished { path: p.into() });
        assert!(t.substituting.is_empty());
        let w = BuildEvent::CacheWarning {
            cache: "http://c".into(),
            reason: "unreachable".into(),
        };
        assert!(t.on(&w));
        assert!(!t.on(&w));
        assert_eq!(t.cache_warnings, ["http://c: unreachable"]);
    }
}
