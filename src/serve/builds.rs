//! Images by name → builds: one build per image however many requests wait for it, at most
//! `--max-builds` at once, each within `--build-timeout`; a request waits up to `--wait`. Each
//! build is a generated project (the server's base, the named presets and packages, the tag's
//! package set) handed to `operations::build_into_store`; its progress is printed per image.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use biar::config::Project;
use biar::index::Index;
use biar::init::{InitOptions, NixpkgsChoice};
use biar::operations::ImageStore;
use biar::progress::{plain_text, BuildEvent, Stage, Tally};
use biar::registry::RegistryTarget;
use sha2::Digest as _;
use tokio::sync::{watch, OnceCell, Semaphore};
use tokio_util::sync::CancellationToken;

use super::names::ImageName;
use super::print::say;
use super::storage::{Storage, Stored};

/// The server's flags, checked.
#[derive(Debug)]
pub struct Settings {
    /// Tag → package set; `latest` first.
    pub pins: Vec<(String, NixpkgsChoice)>,
    /// The base configuration's text.
    pub base: String,
    pub offline: bool,
    pub registry: Option<RegistryTarget>,
    pub max_builds: usize,
    pub build_timeout: Duration,
    pub wait: Duration,
}

/// An error a client is shown: HTTP status, OCI error code, message (plain text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl Failure {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            status,
            code,
            message: message.into(),
        }
    }
}

/// Where a build is.
#[derive(Debug, Clone)]
pub enum JobState {
    Queued,
    Running(String),
    Done(Stored),
    Failed(Failure),
}

impl JobState {
    pub fn label(&self) -> String {
        match self {
            JobState::Queued => "queued".into(),
            JobState::Running(stage) => format!("building ({stage})"),
            JobState::Done(_) => "done".into(),
            JobState::Failed(_) => "failed".into(),
        }
    }

    fn finished(&self) -> bool {
        matches!(self, JobState::Done(_) | JobState::Failed(_))
    }
}

/// One build of one image.
pub struct Job {
    /// `name:tag` as shown.
    pub display: String,
    pub started: SystemTime,
    pub took: Mutex<Option<Duration>>,
    state: watch::Sender<JobState>,
}

impl Job {
    pub fn state(&self) -> JobState {
        self.state.borrow().clone()
    }

    fn set(&self, state: JobState) {
        self.state.send_replace(state);
    }
}

/// What a manifest request gets.
pub enum Lookup {
    Ready(Stored),
    Failed(Failure),
    /// Still building after `--wait`.
    Building(String),
}

/// How many finished builds the start page lists.
const RECENT: usize = 50;

pub struct Server {
    pub settings: Settings,
    pub storage: Storage,
    pub address: SocketAddr,
    permits: Arc<Semaphore>,
    jobs: Mutex<HashMap<String, Arc<Job>>>,
    recent: Mutex<VecDeque<Arc<Job>>>,
    /// Per tag, the package set's index (`None` when it could not be listed).
    indexes: HashMap<String, Arc<OnceCell<Option<Arc<Index>>>>>,
    /// Per (tag, component), the attribute path it means (see [`Server::meaning`]); held while
    /// one request asks the package set, so the names project is written by one at a time.
    meanings: tokio::sync::Mutex<HashMap<(String, String), String>>,
}

impl Server {
    pub fn new(settings: Settings, storage: Storage, address: SocketAddr) -> Server {
        let indexes = settings
            .pins
            .iter()
            .map(|(tag, _)| (tag.clone(), Arc::new(OnceCell::new())))
            .collect();
        Server {
            permits: Arc::new(Semaphore::new(settings.max_builds)),
            settings,
            storage,
            address,
            jobs: Mutex::new(HashMap::new()),
            recent: Mutex::new(VecDeque::new()),
            indexes,
            meanings: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Builds running or queued, then recent ones, newest first.
    pub fn builds(&self) -> Vec<Arc<Job>> {
        let mut out: Vec<Arc<Job>> = self.jobs.lock().unwrap().values().cloned().collect();
        out.sort_by_key(|j| std::cmp::Reverse(j.started));
        let recent = self.recent.lock().unwrap();
        out.extend(
            recent
                .iter()
                .rev()
                .filter(|j| j.state().finished())
                .cloned(),
        );
        out
    }

    fn pin(&self, tag: &str) -> Option<&NixpkgsChoice> {
        self.settings
            .pins
            .iter()
            .find(|(t, _)| t == tag)
            .map(|(_, p)| p)
    }

    /// What makes the image, hashed: the storage key of `name:tag`.
    fn key(&self, name: &ImageName, tag: &str, pin: &NixpkgsChoice) -> String {
        let mut h = sha2::Sha256::new();
        let registry = self
            .settings
            .registry
            .as_ref()
            .map(|r| format!("{}/{}", r.host, r.namespace));
        let parts = [
            "biar-serve v1".to_string(),
            format!("{pin:?}"),
            self.settings.base.clone(),
            self.settings.offline.to_string(),
            format!("{registry:?}"),
            name.canonical(),
        ];
        for p in parts {
            h.update(p.as_bytes());
            h.update([0]);
        }
        let _ = tag;
        hex::encode(h.finalize())
    }

    /// The image `name:tag`: from storage, or built (once, whoever else asks) within `--wait`.
    pub async fn image(self: &Arc<Self>, name: &ImageName, tag: &str) -> Lookup {
        let Some(pin) = self.pin(tag).cloned() else {
            let tags: Vec<&str> = self.settings.pins.iter().map(|(t, _)| t.as_str()).collect();
            return Lookup::Failed(Failure::new(
                404,
                "MANIFEST_UNKNOWN",
                format!(
                    "this server has no package set for the tag {tag:?}; its tags are: {}",
                    tags.join(", ")
                ),
            ));
        };
        // A stored image is found by its name as asked; a key is only ever recorded for a name
        // whose components are attribute paths as they are spelt, so this is never a wrong hit.
        if let Some(stored) = self.storage.image(&self.key(name, tag, &pin)) {
            return Lookup::Ready(stored);
        }
        let name = match self.meaning(name, tag, &pin).await {
            Ok(name) => name,
            Err(f) => return Lookup::Failed(f),
        };
        let name = &name;
        let key = self.key(name, tag, &pin);
        if let Some(stored) = self.storage.image(&key) {
            return Lookup::Ready(stored);
        }
        let job = {
            let mut jobs = self.jobs.lock().unwrap();
            match jobs.get(&key) {
                Some(job) => job.clone(),
                None => {
                    // Checked again under the lock: a build that just finished recorded it.
                    if let Some(stored) = self.storage.image(&key) {
                        return Lookup::Ready(stored);
                    }
                    let job = Arc::new(Job {
                        display: format!("{}:{tag}", name.canonical()),
                        started: SystemTime::now(),
                        took: Mutex::new(None),
                        state: watch::channel(JobState::Queued).0,
                    });
                    jobs.insert(key.clone(), job.clone());
                    let server = self.clone();
                    let (job2, name, tag) = (job.clone(), name.clone(), tag.to_string());
                    tokio::spawn(async move { server.run(key, job2, name, tag, pin).await });
                    job
                }
            }
        };
        let mut rx = job.state.subscribe();
        let waited = tokio::time::timeout(self.settings.wait, async {
            rx.wait_for(JobState::finished).await.map(|s| s.clone())
        })
        .await;
        match waited {
            Ok(Ok(JobState::Done(stored))) => Lookup::Ready(stored),
            Ok(Ok(JobState::Failed(f))) => Lookup::Failed(f),
            Ok(_) => Lookup::Failed(Failure::new(500, "UNKNOWN", "the build was lost")),
            Err(_) => Lookup::Building(job.display.clone()),
        }
    }

    async fn run(
        self: Arc<Self>,
        key: String,
        job: Arc<Job>,
        name: ImageName,
        tag: String,
        pin: NixpkgsChoice,
    ) {
        let started = Instant::now();
        say(&format!("[{}] requested", job.display));
        let result = self.build(&key, &job, &name, &tag, pin).await;
        let took = started.elapsed();
        *job.took.lock().unwrap() = Some(took);
        let state = match result {
            Ok(stored) => {
                say(&format!(
                    "[{}] done in {:.1}s: {}{}",
                    job.display,
                    took.as_secs_f64(),
                    stored.manifest.digest,
                    if stored.found {
                        " (built before: found in the backing registry)"
                    } else {
                        ""
                    }
                ));
                JobState::Done(stored)
            }
            Err(f) => {
                say(&format!(
                    "[{}] failed after {:.1}s: {}",
                    job.display,
                    took.as_secs_f64(),
                    f.message
                ));
                let storage = self.storage.clone();
                let dir_key = key.clone();
                let removed =
                    tokio::task::spawn_blocking(move || storage.remove_project(&dir_key)).await;
                if let Ok(Err(e)) = removed {
                    say(&format!(
                        "[{}] removing the failed build's project: {e}",
                        job.display
                    ));
                }
                JobState::Failed(f)
            }
        };
        // The record is written before the job leaves the table (see `image`).
        {
            let mut jobs = self.jobs.lock().unwrap();
            jobs.remove(&key);
            let mut recent = self.recent.lock().unwrap();
            recent.push_back(job.clone());
            while recent.len() > RECENT {
                recent.pop_front();
            }
        }
        job.set(state);
    }

    async fn build(
        &self,
        key: &str,
        job: &Job,
        name: &ImageName,
        tag: &str,
        pin: NixpkgsChoice,
    ) -> Result<Stored, Failure> {
        let dir = self.storage.project_dir(key);
        let project = self.write_project(&dir, name, pin).await?;
        // The listing is a hint, not the judge: `nix-env -qaP` leaves out nested sets that do
        // not ask to be recursed into (the test set's `hostile.log`, many of nixpkgs'), so
        // Nix's evaluation decides, and the listing adds "did you mean" when it refuses.
        let unknown = match self.index(tag, &project).await {
            Some(index) => index.unknown(&name.packages),
            None => Vec::new(),
        };
        let _permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        job.set(JobState::Running("evaluate".into()));
        say(&format!("[{}] build started", job.display));
        let store = match &self.settings.registry {
            None => ImageStore::Dir(self.storage.blobs().clone()),
            Some(target) => ImageStore::Registry {
                target: target.clone(),
                manifests: self.storage.blobs().clone(),
            },
        };
        let (events, receiver) = biar::progress::channel();
        let printer = tokio::spawn(show_progress(receiver, job.display.clone(), {
            let state = job.state.clone();
            move |stage: &str| {
                state.send_replace(JobState::Running(stage.to_string()));
            }
        }));
        let cancel = CancellationToken::new();
        let options = biar::nixbuild::BuildOptions::default();
        let build =
            biar::operations::build_into_store(&project, &store, &options, events, cancel.clone());
        tokio::pin!(build);
        let result = tokio::select! {
            r = &mut build => r,
            _ = tokio::time::sleep(self.settings.build_timeout) => {
                cancel.cancel();
                let _ = build.await;
                let _ = printer.await;
                return Err(Failure::new(
                    404,
                    "MANIFEST_UNKNOWN",
                    format!(
                        "the build of {} took longer than the server's --build-timeout ({}s) and was stopped",
                        job.display,
                        self.settings.build_timeout.as_secs()
                    ),
                ));
            }
        };
        let _ = printer.await;
        let stored = result.map_err(|e| build_failure(&e, &unknown))?;
        let scheme = match &self.settings.registry {
            Some(t) if t.insecure || biar::registry::is_loopback(&t.host) => "http",
            _ => "https",
        };
        let record = Stored {
            name: name.canonical(),
            tag: tag.to_string(),
            manifest: stored.manifest.clone(),
            remote: stored
                .remote
                .as_ref()
                .map(|r| format!("{}/{}", r.host, r.repository)),
            scheme: stored.remote.as_ref().map(|_| scheme.to_string()),
            found: stored.up_to_date,
        };
        if let Some(remote) = &record.remote {
            self.record_remote_blobs(&record, scheme, remote)
                .map_err(|e| internal(format!("recording the registry's blobs: {e}")))?;
        }
        self.storage
            .record(key, &record)
            .map_err(|e| internal(format!("recording the image: {e}")))?;
        Ok(record)
    }

    fn record_remote_blobs(
        &self,
        record: &Stored,
        scheme: &str,
        remote: &str,
    ) -> std::io::Result<()> {
        let path = self
            .storage
            .blobs()
            .path_of(&record.manifest.digest)
            .ok_or_else(|| std::io::Error::other("bad manifest digest"))?;
        let manifest: biar::registry::ImageManifest =
            serde_json::from_slice(&std::fs::read(path)?).map_err(std::io::Error::other)?;
        self.storage
            .record_remote(&manifest.config.digest, scheme, remote)?;
        for layer in &manifest.layers {
            self.storage.record_remote(&layer.digest, scheme, remote)?;
        }
        Ok(())
    }

    /// `name` with each package spelt as the package set spells it: `docker pull` allows only
    /// lower-case names, so a component that is no exact attribute path is matched ignoring case
    /// (`python312packages.numpy` → `python312Packages.numpy`, one image whichever is asked).
    /// Asked of the package set itself in the builder, once per tag and component.
    async fn meaning(
        &self,
        name: &ImageName,
        tag: &str,
        pin: &NixpkgsChoice,
    ) -> Result<ImageName, Failure> {
        let mut meanings = self.meanings.lock().await;
        let listed = self
            .indexes
            .get(tag)
            .and_then(|cell| cell.get().cloned().flatten());
        let ask: Vec<String> = name
            .packages
            .iter()
            .filter(|p| !meanings.contains_key(&(tag.to_string(), p.to_string())))
            // What the listing has is exact (the listing misses nested sets, never adds).
            .filter(|p| !listed.as_ref().is_some_and(|i| i.contains(p)))
            .cloned()
            .collect();
        if !ask.is_empty() {
            let empty = ImageName {
                packages: Vec::new(),
                presets: Vec::new(),
            };
            let dir = self
                .storage
                .project_dir(&format!("names-{}", self.key(&empty, tag, pin)));
            let project = self.write_project(&dir, &empty, pin.clone()).await?;
            match biar::index::case_matches(&project.root, &project.config, &ask).await {
                Ok(found) => {
                    let mut ambiguous = Vec::new();
                    for (asked, found) in ask.iter().zip(found) {
                        match super::names::choose(asked, &found) {
                            Ok(meant) => {
                                if meant != *asked {
                                    say(&format!("[{tag}] {asked} is {meant}"));
                                }
                                meanings.insert((tag.to_string(), asked.clone()), meant);
                            }
                            Err(candidates) => ambiguous
                                .push(format!("{asked} (it could be {})", candidates.join(", "))),
                        }
                    }
                    if !ambiguous.is_empty() {
                        return Err(Failure::new(
                            404,
                            "NAME_UNKNOWN",
                            format!(
                                "ambiguous in the package set, whose names differ only by case: {}",
                                ambiguous.join("; ")
                            ),
                        ));
                    }
                }
                // Not cached: the next request asks again.
                Err(e) => say(&format!(
                    "[{tag}] the package set could not be asked for the names' case ({e}); \
                     they are used as written"
                )),
            }
        }
        Ok(name.mapped(|p| {
            meanings
                .get(&(tag.to_string(), p.to_string()))
                .cloned()
                .unwrap_or_else(|| p.to_string())
        }))
    }

    /// Writes the generated project of `name` (whole files, config.json last) and loads it.
    async fn write_project(
        &self,
        dir: &std::path::Path,
        name: &ImageName,
        pin: NixpkgsChoice,
    ) -> Result<Project, Failure> {
        let options = InitOptions {
            presets: name.presets.clone(),
            nixpkgs: pin,
            offline: self.settings.offline,
        };
        let base = self.settings.base.clone();
        let user = name.user_nix();
        let dir = dir.to_path_buf();
        let written = tokio::task::spawn_blocking(move || -> Result<Project, String> {
            let files = biar::init::files(&options).map_err(|e| e.to_string())?;
            std::fs::create_dir_all(dir.join("workdir")).map_err(|e| e.to_string())?;
            let mut config = None;
            for (rel, bytes) in files {
                let bytes = match rel.as_str() {
                    "base.nix" => base.as_bytes().to_vec(),
                    "user.nix" => user.as_bytes().to_vec(),
                    "config.json" => {
                        config = Some(bytes);
                        continue;
                    }
                    _ => bytes,
                };
                let path = dir.join(&rel);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
                }
                biar::fsutil::write_atomic(&path, &bytes).map_err(|e| e.to_string())?;
            }
            if let Some(config) = config {
                biar::fsutil::write_atomic(&dir.join("config.json"), &config)
                    .map_err(|e| e.to_string())?;
            }
            Project::load(&dir).map_err(|e| e.to_string())
        });
        match written.await {
            Ok(Ok(project)) => Ok(project),
            Ok(Err(e)) => Err(internal(format!("the generated project: {e}"))),
            Err(e) => Err(internal(e.to_string())),
        }
    }

    /// The index of `tag`'s package set, listed once (by the first build of that tag).
    async fn index(&self, tag: &str, project: &Project) -> Option<Arc<Index>> {
        let cell = self.indexes.get(tag)?.clone();
        cell.get_or_init(|| async {
            say(&format!("[{tag}] listing the package set for name checks"));
            match biar::index::list_package_set(&project.root, &project.config).await {
                Ok(index) => {
                    say(&format!("[{tag}] {} packages", index.len()));
                    Some(Arc::new(index))
                }
                Err(e) => {
                    say(&format!(
                        "[{tag}] the package set could not be listed ({e}); names are checked by the build"
                    ));
                    None
                }
            }
        })
        .await
        .clone()
    }
}

fn internal(message: String) -> Failure {
    Failure::new(500, "UNKNOWN", message)
}

/// `NAME_UNKNOWN` listing the unknown components with their close names.
fn unknown_packages(unknown: &[biar::index::UnknownAttr]) -> Failure {
    let items: Vec<String> = unknown
        .iter()
        .map(|u| {
            if u.suggestions.is_empty() {
                u.attr.clone()
            } else {
                format!("{} (did you mean {}?)", u.attr, u.suggestions.join(", "))
            }
        })
        .collect();
    Failure::new(
        404,
        "NAME_UNKNOWN",
        format!(
            "not in the package set: {}; each name component is a package attribute path",
            items.join("; ")
        ),
    )
}

/// A failed build as a client sees it: plain text only (clients print it to a terminal).
/// `unknown`: the components the package set's listing lacks, with their close names.
fn build_failure(error: &biar::Error, unknown: &[biar::index::UnknownAttr]) -> Failure {
    use biar::nixbuild::BuildError;
    if let biar::Error::Build(BuildError::Evaluation { message }) = error {
        if let Some(attr) = missing_attribute(message) {
            return unknown_packages(&missing_components(unknown, &attr));
        }
    }
    let text = match error {
        biar::Error::Build(BuildError::Derivation {
            name,
            drv,
            nix_error,
            log_tail,
        }) => {
            let mut out = format!(
                "the image could not be built: building {} failed ({}): {}",
                plain_text(name),
                plain_text(drv),
                plain_text(nix_error)
            );
            if !log_tail.is_empty() {
                out.push_str("\nlast lines of its log:");
                for line in log_tail {
                    out.push_str("\n  ");
                    out.push_str(&plain_text(line));
                }
            }
            out
        }
        other => {
            let lines: Vec<String> = other.to_string().lines().map(plain_text).collect();
            format!("the image could not be built: {}", lines.join("\n"))
        }
    };
    Failure::new(404, "MANIFEST_UNKNOWN", text)
}

/// The components to report as missing: the one Nix stopped at (`attr`, the last segment of its
/// path) and every top-level one the listing lacks (a top-level package is always listed; a
/// nested one may just be unlisted).
fn missing_components(
    unknown: &[biar::index::UnknownAttr],
    attr: &str,
) -> Vec<biar::index::UnknownAttr> {
    let hit = |u: &biar::index::UnknownAttr| u.attr.rsplit('.').next() == Some(attr);
    let mut out: Vec<biar::index::UnknownAttr> = unknown
        .iter()
        .filter(|u| !u.attr.contains('.') || hit(u))
        .cloned()
        .collect();
    if !out.iter().any(hit) {
        out.push(biar::index::UnknownAttr {
            attr: plain_text(attr),
            suggestions: Vec::new(),
        });
    }
    out
}

/// `X` of Nix's "attribute 'X' missing".
fn missing_attribute(message: &str) -> Option<String> {
    let start = message.find("attribute '")? + "attribute '".len();
    let rest = &message[start..];
    let end = rest.find('\'')?;
    rest[end..]
        .starts_with("' missing")
        .then(|| rest[..end].to_string())
}

/// Prints a build's progress, one line per stage and per derivation, prefixed by the image.
async fn show_progress(
    mut receiver: biar::progress::Receiver,
    display: String,
    on_stage: impl Fn(&str),
) {
    let mut tally = Tally::default();
    while let Some(event) = receiver.recv().await {
        if let BuildEvent::Stage { name } = &event {
            summarise(&display, &tally);
            on_stage(name.name());
            say(&format!("[{display}] {name}"));
        }
        tally.on(&event);
        match &event {
            BuildEvent::Done { .. } => summarise(&display, &tally),
            BuildEvent::DerivationStarted { name, .. } => say(&format!(
                "[{display}] building {name} ({}/{} done)",
                tally.done, tally.expected
            )),
            BuildEvent::Message { level: 0, text } => say(&format!("[{display}] nix: {text}")),
            BuildEvent::Layer {
                index,
                total,
                digest,
                size,
                reused,
            } if !reused && tally.stage == Some(Stage::Push) => say(&format!(
                "[{display}] layer {}/{total} {} {} {}",
                index + 1,
                short(digest),
                human(*size),
                if *reused { "reused" } else { "new" }
            )),
            BuildEvent::Collision {
                file,
                winner,
                others,
            } => say(&format!(
                "[{display}] {}",
                biar::progress::describe_collision(file, winner, others)
            )),
            _ => {}
        }
    }
}

/// The layers of the stage that ends.
fn summarise(display: &str, tally: &Tally) {
    if matches!(tally.stage, Some(Stage::Layers | Stage::Push)) {
        say(&format!(
            "[{display}] {}: {} layers, {} new, {} reused",
            tally.stage.expect("matched"),
            tally.layers_total,
            tally.layers_sent,
            tally.layers_reused
        ));
    }
}

fn short(digest: &str) -> &str {
    let hex = digest.trim_start_matches("sha256:");
    &hex[..hex.len().min(12)]
}

fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_attributes_are_found_in_nix_errors() {
        assert_eq!(
            missing_attribute("error: attribute 'hellp' missing\n at /x/user.nix:4:3"),
            Some("hellp".into())
        );
        assert_eq!(missing_attribute("error: something else"), None);
    }

    #[test]
    fn the_component_nix_stopped_at_is_always_reported() {
        let u = |a: &str| biar::index::UnknownAttr {
            attr: a.into(),
            suggestions: vec![],
        };
        let listed = [u("hellp"), u("set.unlisted"), u("set.nope")];
        let names: Vec<String> = missing_components(&listed, "nope")
            .into_iter()
            .map(|u| u.attr)
            .collect();
        assert_eq!(names, ["hellp", "set.nope"]);
        let names: Vec<String> = missing_components(&[], "other")
            .into_iter()
            .map(|u| u.attr)
            .collect();
        assert_eq!(names, ["other"]);
    }

    #[test]
    fn unknown_packages_say_did_you_mean() {
        let f = unknown_packages(&[
            biar::index::UnknownAttr {
                attr: "hellp".into(),
                suggestions: vec!["hello".into()],
            },
            biar::index::UnknownAttr {
                attr: "zzz".into(),
                suggestions: vec![],
            },
        ]);
        assert_eq!(f.code, "NAME_UNKNOWN");
        assert!(
            f.message.contains("hellp (did you mean hello?); zzz"),
            "{}",
            f.message
        );
    }
}
