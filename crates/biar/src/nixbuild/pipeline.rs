//! One build: a fresh builder container, the project's Nix files and path-pinned package set
//! uploaded as a tar, the generated expression realised by `nix-build --log-format
//! internal-json`, then the closure of the result.

use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::cache::CachePlan;
use super::drv_graph::{self, DrvGraph, PlanWatch};
use super::internal_json::{drv_name, LineBuffer, LogParser};
use super::upload_set::{upload_set, UploadSet};
use super::{BuildError, ClosureGraph, StorePathInfo};
use crate::config::{PackageSetPin, Project};
use crate::docker::tar_stream::{tar_stream, TarEntry};
use crate::docker::{BuilderContainer, Engine, ExecOutput};
use crate::nixexpr::{build_expression, package_set_expression, BuildExpr, PackageSetSource};
use crate::progress::{self, BuildEvent, Stage};

/// Where a build's files go in its container.
const BUILD_DIR: &str = "/build";
/// The name of the environment derivation (the symlink farm).
pub const ENV_NAME: &str = "biar-env";

/// Knobs of one build; the defaults suit everyone.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Nix's `--max-jobs` (derivations built at once); `None` is Nix's default.
    pub max_jobs: Option<u32>,
}

/// What a successful build produced.
#[derive(Debug)]
pub struct BuildOutput {
    /// The environment: a symlink farm (`bin/`, `etc/`, …) of every package.
    pub env_path: String,
    /// The build's outputs (the closure graph's roots): `[env_path]`.
    pub roots: Vec<String>,
    /// The packages the configuration lists (store paths the environment links to).
    pub packages: Vec<String>,
    /// Every path of the environment's closure with NAR size, hash and references.
    pub closure: ClosureGraph,
    /// Files several packages provide (also sent as [`BuildEvent::Collision`]).
    pub collisions: Vec<super::Collision>,
    /// The builder container the build ran in, still running with the store mounted: stream paths
    /// out of it (`container.exec_stream_stdout(&["nix-store", "--dump", path])`). Dropping it
    /// removes the container.
    pub container: BuilderContainer,
    /// The engine's folders mounted in it (what [`BuilderContainer::park`] needs to know).
    pub host_dirs: Vec<String>,
    /// Where the user uploads successful builds (see [`super::cache::push`]), if anywhere.
    pub cache_push: Option<super::cache::PushTarget>,
}

/// Runs the whole build, sending progress to `events` (a closed receiver is fine) and stopping
/// promptly (container killed and removed) when `cancel` fires.
pub async fn run(
    engine: &Engine,
    project: &Project,
    options: &BuildOptions,
    events: progress::Sender,
    cancel: CancellationToken,
) -> Result<BuildOutput, BuildError> {
    let plan = plan(project)?;
    let caches = CachePlan::for_project(project)?;
    caches.make_host_dirs()?;
    let settings = &project.config.builder;
    stage(&events, Stage::Evaluate);
    for (cache, reason) in &caches.warnings {
        events.send(BuildEvent::CacheWarning {
            cache: cache.clone(),
            reason: reason.clone(),
        });
    }
    // Starting is not interrupted (a fraction of a second): a container dropped between its
    // creation and its start would not end by itself, so it is removed properly instead.
    // A builder this process parked after an earlier build serves too (its old files removed).
    let container = BuilderContainer::start_warm(
        engine,
        settings,
        "build",
        &caches.host_dirs,
        &["rm", "-rf", BUILD_DIR],
    )
    .await?;
    if cancel.is_cancelled() {
        container.remove().await;
        return Err(BuildError::Cancelled);
    }
    let result = tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(BuildError::Cancelled),
        r = build_in(&container, project, &plan, &caches, options, &events) => r,
    };
    match result {
        Ok((env_path, closure, collisions)) => {
            let packages = closure
                .paths
                .iter()
                .find(|p| p.path == env_path)
                .map(|p| {
                    p.references
                        .iter()
                        .filter(|r| **r != env_path)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            Ok(BuildOutput {
                roots: vec![env_path.clone()],
                env_path,
                packages,
                closure,
                collisions,
                container,
                host_dirs: caches.host_dirs.clone(),
                cache_push: caches.push.clone(),
            })
        }
        Err(e) => {
            // Killing the container kills nix-build with it; waiting for the removal makes the
            // next build start clean.
            container.remove().await;
            Err(e)
        }
    }
}

/// The files to upload and the expression, decided before any container starts (so bad input
/// fails fast and changes nothing).
#[derive(Debug)]
struct Plan {
    expression: String,
    package_set_expr: String,
    package_set_dir: Option<PathBuf>,
    channel: Option<String>,
    /// The project files that travel (the configuration and what it refers to).
    upload: UploadSet,
}

fn plan(project: &Project) -> Result<Plan, BuildError> {
    // A signing key the project brings is passed to Nix below only if the user trusts it.
    project.check_keys_trusted()?;
    let config_path = project.config_path();
    let bad = |message: String| BuildError::BadProject {
        config: config_path.clone(),
        message,
    };
    let mut files = Vec::new();
    let mut roots = Vec::new();
    let mut named = vec![("baseConfig", project.config.base_config.clone())];
    named.extend(
        project
            .config
            .user_config
            .iter()
            .map(|f| ("userConfig", f.clone())),
    );
    for (key, file) in named {
        let rel = inside_project(&file).ok_or_else(|| {
            bad(format!(
                "{key} entry {file:?} must be a path inside the project"
            ))
        })?;
        if !project.root.join(&rel).is_file() {
            return Err(bad(format!(
                "{key} entry {file:?}: {} does not exist",
                project.root.join(&rel).display()
            )));
        }
        files.push(container_path(&rel));
        roots.push(rel);
    }
    if project.root.join("workdir/local.nix").is_file() {
        files.push(container_path(Path::new("workdir/local.nix")));
        roots.push(PathBuf::from("workdir/local.nix"));
    }
    let upload = upload_set(project, &roots).map_err(bad)?;
    let (package_set, package_set_dir, channel) = match &project.config.nixpkgs {
        PackageSetPin::Path { path } => {
            let dir = project.root.join(path);
            if !dir.join("default.nix").is_file() {
                return Err(bad(format!(
                    "nixpkgs.path {path:?}: {} has no default.nix (a package set folder is needed)",
                    dir.display()
                )));
            }
            check_pin_trusted(project, path, &dir)?;
            (
                PackageSetSource::Path(format!("{BUILD_DIR}/pkgs")),
                Some(dir),
                None,
            )
        }
        PackageSetPin::Tarball { url, sha256 } => (
            PackageSetSource::Tarball {
                url: url.clone(),
                sha256: sha256.clone(),
            },
            None,
            None,
        ),
        PackageSetPin::Channel { channel } => {
            (PackageSetSource::SearchPath, None, Some(channel.clone()))
        }
    };
    let package_set_expr = package_set_expression(&package_set);
    let expression = build_expression(&BuildExpr {
        package_set,
        files,
        env_name: ENV_NAME.to_string(),
    });
    Ok(Plan {
        expression,
        package_set_expr,
        package_set_dir,
        channel,
        upload,
    })
}

/// A path pin is uploaded whole into the shared builder: one outside the project (a cloned
/// project pinning `~`, say) is used only when the user's own configuration trusts it.
fn check_pin_trusted(project: &Project, written: &str, dir: &Path) -> Result<(), BuildError> {
    crate::config::check_path_pin(&project.root, written, dir).map_err(|message| {
        BuildError::BadProject {
            config: project.config_path(),
            message,
        }
    })
}

/// `file` relative to the project with no `..`, or `None`.
fn inside_project(file: &str) -> Option<PathBuf> {
    let path = Path::new(file);
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

fn container_path(rel: &Path) -> String {
    format!("{BUILD_DIR}/project/{}", rel.display())
}

fn stage(events: &progress::Sender, name: Stage) {
    events.send(BuildEvent::Stage { name });
}

/// Where [`upload_project`] put things in the container, and the arguments Nix needs for them.
#[derive(Debug, Clone)]
pub struct UploadedProject {
    /// The generated expression (`nix-build FILE -A env`).
    pub default_nix: String,
    /// A Nix expression for the package set: `(/. + "/build/pkgs")`, a `fetchTarball`, or
    /// `<nixpkgs>` (then `nix_args` resolves it), e.g. for `nix-env -qaP --json -f`.
    pub package_set: String,
    /// Extra arguments every Nix command on this project needs (`-I nixpkgs=channel:…`).
    pub nix_args: Vec<String>,
}

/// Uploads the project's Nix files, its path-pinned package set and the generated expression into
/// `container` (under `/build`), as one tar through the API (remote engines too). For the index:
/// `nix-env -qaP --json -f <package_set>` then lists the project's package set.
pub async fn upload_project(
    container: &BuilderContainer,
    project: &Project,
) -> Result<UploadedProject, BuildError> {
    let plan = plan(project)?;
    upload(container, project, &plan).await
}

async fn upload(
    container: &BuilderContainer,
    project: &Project,
    plan: &Plan,
) -> Result<UploadedProject, BuildError> {
    let mut entries = vec![
        TarEntry::Dir {
            src: project.root.clone(),
            dest: PathBuf::from("build/project"),
            filter: Some({
                let set = plan.upload.clone();
                Box::new(move |rel: &Path, is_dir| set.includes(rel, is_dir))
            }),
        },
        TarEntry::File {
            dest: PathBuf::from("build/default.nix"),
            bytes: plan.expression.clone().into_bytes(),
            mode: 0o644,
        },
    ];
    if let Some(dir) = &plan.package_set_dir {
        entries.push(TarEntry::Dir {
            src: dir.clone(),
            dest: PathBuf::from("build/pkgs"),
            filter: Some(Box::new(|rel: &Path, _| {
                !rel.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
            })),
        });
    }
    container.upload_tar("/", tar_stream(entries)).await?;
    Ok(UploadedProject {
        default_nix: format!("{BUILD_DIR}/default.nix"),
        package_set: plan.package_set_expr.clone(),
        nix_args: plan
            .channel
            .iter()
            .flat_map(|c| ["-I".to_string(), format!("nixpkgs=channel:{c}")])
            .collect(),
    })
}

/// Nix names the uploaded copies (`/build/project/user.nix:4:3`); the user knows the originals.
/// Whether Nix's errors put the fault at a position (`file:line:col`) in one of the project's
/// own files, so the configuration is bad input; failures of the world (a download, memory) are
/// not, wherever the evaluation was.
fn names_project_position(errors: &str) -> bool {
    let prefix = format!("{BUILD_DIR}/project/");
    let at_position = errors.match_indices(&prefix).any(|(i, _)| {
        let rest = &errors[i + prefix.len()..];
        let file = rest.split(|c: char| c.is_whitespace()).next().unwrap_or("");
        // `user.nix:4:3` (with maybe a trailing `:`).
        let mut parts = file.trim_end_matches(':').rsplitn(3, ':');
        let col = parts.next().unwrap_or("");
        let line = parts.next().unwrap_or("");
        !col.is_empty()
            && !line.is_empty()
            && col.bytes().all(|b| b.is_ascii_digit())
            && line.bytes().all(|b| b.is_ascii_digit())
    });
    let lower = errors.to_ascii_lowercase();
    let world = [
        "unable to download",
        "out of memory",
        "cannot connect",
        "timed out",
    ];
    at_position && !world.iter().any(|w| lower.contains(w))
}

fn host_paths(text: &str, project: &Project, plan: &Plan) -> String {
    let mut text = text.replace(
        &format!("{BUILD_DIR}/project/"),
        &format!("{}/", project.root.display()),
    );
    if let Some(dir) = &plan.package_set_dir {
        text = text.replace(
            &format!("{BUILD_DIR}/pkgs/"),
            &format!("{}/", dir.display()),
        );
    }
    text
}

/// A GC root per project in the store volume, so the last build of every project survives a
/// garbage collection of the shared store.
fn gc_root(project: &Project) -> String {
    use sha2::{Digest, Sha256};
    let root = project
        .root
        .canonicalize()
        .unwrap_or_else(|_| project.root.clone());
    let id = hex::encode(Sha256::digest(root.to_string_lossy().as_bytes()));
    format!("/nix/var/nix/gcroots/biar-{}", &id[..16])
}

/// Builds the project's environment in `container`: upload, `nix-build` (its log turned into
/// progress), the file collisions of the result, then the closure of the environment.
async fn build_in(
    container: &BuilderContainer,
    project: &Project,
    plan: &Plan,
    caches: &CachePlan,
    options: &BuildOptions,
    events: &progress::Sender,
) -> Result<(String, ClosureGraph, Vec<super::Collision>), BuildError> {
    let uploaded = upload(container, project, plan).await?;
    let cmd = nix_build_argv(&uploaded, project, caches, options);
    let args: Vec<&str> = cmd.iter().map(String::as_str).collect();

    stage(events, Stage::Build);
    let run = run_nix_build(container, &args, events).await?;
    if run.code != 0 {
        return Err(build_failure(&run.parser, run.code, project, plan));
    }
    let env_path = env_path_from(&run.stdout)?;

    // Two execs at once: neither waits for the other (the events keep their order).
    let (collisions, closure) = tokio::join!(
        super::collisions::find(container, &run.origins),
        closure_in(container, &env_path)
    );
    for c in collisions.as_deref().unwrap_or_default() {
        events.send(BuildEvent::Collision {
            file: c.file.clone(),
            winner: c.winner.clone(),
            others: c.others.clone(),
        });
    }
    let collisions = collisions?;

    stage(events, Stage::Closure);
    let closure = closure?;
    Ok((env_path, closure, collisions))
}

/// The `nix-build` command line for the uploaded project: its GC root, the machine-readable log,
/// this build's binary caches and options.
fn nix_build_argv(
    uploaded: &UploadedProject,
    project: &Project,
    caches: &CachePlan,
    options: &BuildOptions,
) -> Vec<String> {
    let settings = &project.config.builder;
    // The binary caches come first, per build (never in the builder image's nix.conf).
    let substituters = caches.substituters(&settings.substituters);
    let keys = caches.trusted_keys(&settings.trusted_public_keys);
    let out_link = gc_root(project);
    let mut cmd: Vec<String> = [
        "nix-build",
        uploaded.default_nix.as_str(),
        "-A",
        "env",
        "--out-link",
        out_link.as_str(),
        "--log-format",
        "internal-json",
        "-v",
        "--option",
        "substituters",
        substituters.as_str(),
        "--option",
        "trusted-public-keys",
        keys.as_str(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    cmd.extend(uploaded.nix_args.iter().cloned());
    if !caches.caches.is_empty() {
        // A cache that fails mid-way (gone, a bad signature) is built around, not fatal; one
        // that does not answer is given up on soon.
        for (k, v) in [("fallback", "true"), ("connect-timeout", "10")] {
            cmd.extend(["--option".to_string(), k.to_string(), v.to_string()]);
        }
    }
    if let Some(jobs) = options.max_jobs {
        cmd.push("--max-jobs".into());
        cmd.push(jobs.to_string());
    }
    cmd
}

/// What one `nix-build` run left behind once its output ended.
struct NixBuildRun {
    code: i64,
    /// Its stdout (the store path it built, last).
    stdout: Vec<u8>,
    /// The parsed log: the failed derivation and Nix's errors, if any.
    parser: LogParser,
    /// The expression's trace of where each package comes from (for collisions).
    origins: Vec<super::collisions::Origin>,
}

/// Runs `args` in `container`, turning its stderr (Nix's internal-json log) into progress events
/// as it arrives.
async fn run_nix_build(
    container: &BuilderContainer,
    args: &[&str],
    events: &progress::Sender,
) -> Result<NixBuildRun, BuildError> {
    let mut exec = container.exec(args, &[]).await?;
    let mut parser = LogParser::new();
    // The build tree's ETA comes from earlier builds of the same names; this build's times are
    // remembered for the next (a convenience: a state folder that cannot be read is no error).
    let times = super::build_times::BuildTimes::of_user();
    let known = {
        let times = times.clone();
        tokio::task::spawn_blocking(move || times.load())
            .await
            .unwrap_or_default()
    };
    let mut timed = Timed::new(known);
    let mut lines = LineBuffer::default();
    let mut stdout = Vec::new();
    let mut origins = Vec::new();
    // Where each derivation sits comes from the derivation graph, asked for beside the build
    // once Nix said its plan (the environment's .drv among it).
    let mut watch = PlanWatch::new(ENV_NAME);
    let mut placing: Option<PlacementQuery<'_>> = None;
    loop {
        tokio::select! {
            chunk = exec.next() => {
                let Some(chunk) = chunk else { break };
                match chunk? {
                    ExecOutput::Stdout(b) => stdout.extend_from_slice(&b),
                    ExecOutput::Stderr(b) => {
                        for line in lines.push(&b) {
                            // The expression's trace of where each package comes from: ours,
                            // not a message for the user.
                            if let Some(o) = super::collisions::origins_from_line(&line) {
                                origins = o;
                                continue;
                            }
                            for event in parser.feed(&line) {
                                if let Some(env_drv) = watch.see(&event) {
                                    placing = Some(Box::pin(placements(
                                        container,
                                        env_drv,
                                        watch.drvs.clone(),
                                        watch.fetches.clone(),
                                    )));
                                }
                                events.send(timed.on(event));
                            }
                        }
                    }
                }
            }
            placed = async { placing.as_mut().expect("guarded").await }, if placing.is_some() => {
                placing = None;
                for event in placed {
                    events.send(timed.on(event));
                }
            }
        }
    }
    if let Some(line) = lines.finish() {
        for event in parser.feed(&line) {
            events.send(timed.on(event));
        }
    }
    // A build quicker than the query: its answer still shapes the final tree, if it comes soon.
    if let Some(query) = placing {
        if let Ok(placed) = tokio::time::timeout(PLACEMENT_GRACE, query).await {
            for event in placed {
                events.send(timed.on(event));
            }
        }
    }
    let code = exec.exit_code().await?;
    let durations = timed.tree.durations();
    let _ = tokio::task::spawn_blocking(move || times.record(&durations)).await;
    Ok(NixBuildRun {
        code,
        stdout,
        parser,
        origins,
    })
}

/// How long a finished build waits for the derivation graph still on its way.
const PLACEMENT_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

type PlacementQuery<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Vec<BuildEvent>> + Send + 'a>>;

/// The `Under` events that put the planned derivations and fetches under what needs them, from
/// one `nix-store --query --graph` of the environment's derivation (bounded; none when it fails:
/// the tree then stays flat, a convenience, never an error).
async fn placements(
    container: &BuilderContainer,
    env_drv: String,
    drvs: Vec<String>,
    fetches: Vec<String>,
) -> Vec<BuildEvent> {
    let Some(dot) = graph_dot(container, &env_drv).await else {
        return Vec::new();
    };
    // Reading and searching a big graph takes a moment: off the runtime.
    tokio::task::spawn_blocking(move || {
        let text = String::from_utf8_lossy(&dot);
        DrvGraph::from_dot(&text).placements(&env_drv, &drvs, &fetches)
    })
    .await
    .unwrap_or_default()
}

/// `nix-store --query --graph`'s output, or `None` if it failed or ran past
/// [`drv_graph::MAX_GRAPH_BYTES`].
async fn graph_dot(container: &BuilderContainer, env_drv: &str) -> Option<Vec<u8>> {
    let mut exec = container
        .exec(&drv_graph::query_argv(env_drv), &[])
        .await
        .ok()?;
    let mut out = Vec::new();
    while let Some(chunk) = exec.next().await {
        if let ExecOutput::Stdout(b) = chunk.ok()? {
            if out.len() + b.len() > drv_graph::MAX_GRAPH_BYTES {
                return None;
            }
            out.extend_from_slice(&b);
        }
    }
    (exec.exit_code().await.ok()? == 0).then_some(out)
}

/// The build tree of one `nix-build`, on the build's own clock: it fills in the estimates of
/// planned builds and measures the durations to remember.
struct Timed {
    started: std::time::Instant,
    tree: progress::BuildTree,
    known: std::collections::HashMap<String, std::time::Duration>,
}

impl Timed {
    fn new(known: std::collections::HashMap<String, std::time::Duration>) -> Timed {
        Timed {
            started: std::time::Instant::now(),
            tree: progress::BuildTree::new(),
            known,
        }
    }

    fn on(&mut self, mut event: BuildEvent) -> BuildEvent {
        if let BuildEvent::Planned {
            name,
            fetch: false,
            estimate,
            ..
        } = &mut event
        {
            *estimate = self.known.get(name.as_str()).map(|d| d.as_secs_f64());
        }
        self.tree.on(&event, self.started.elapsed());
        event
    }
}

/// The error a failed `nix-build` (exit `code`) stands for: a derivation that failed, the
/// project's own configuration (bad input), or Nix / the world.
fn build_failure(parser: &LogParser, code: i64, project: &Project, plan: &Plan) -> BuildError {
    match parser.failed_build() {
        Some(failed) => BuildError::Derivation {
            name: drv_name(&failed.drv),
            // Nix's own message comes last (a builder may print look-alikes before it).
            nix_error: parser
                .errors
                .iter()
                .rev()
                .find(|e| e.contains(&failed.drv))
                .cloned()
                .unwrap_or_default(),
            drv: failed.drv,
            log_tail: failed.log_tail,
        },
        None => {
            let errors: Vec<&String> = parser
                .errors
                .iter()
                .filter(|e| !e.starts_with("(use '--show-trace'"))
                .collect();
            let mut message = errors
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            // A conflict the composition found (two versions of one language) is the
            // configuration's fault: it names both files.
            let in_project =
                names_project_position(&message) || message.contains(crate::nixexpr::CONFLICT_MARK);
            if message.is_empty() {
                message = parser.plain_tail().join("\n");
            }
            let message = host_paths(&message, project, plan);
            if in_project {
                BuildError::Evaluation { message }
            } else {
                BuildError::Nix { code, message }
            }
        }
    }
}

/// The environment's store path: the last one `nix-build` printed.
fn env_path_from(stdout: &[u8]) -> Result<String, BuildError> {
    let out = String::from_utf8_lossy(stdout);
    Ok(out
        .lines()
        .rev()
        .find(|l| l.starts_with("/nix/store/"))
        .ok_or_else(|| BuildError::Other(format!("nix-build printed no store path: {out:?}")))?
        .trim()
        .to_string())
}

/// The closure of `env_path`, as the builder's Nix reports it.
async fn closure_in(
    container: &BuilderContainer,
    env_path: &str,
) -> Result<ClosureGraph, BuildError> {
    let json = container
        .exec_checked(&[
            "nix",
            "--extra-experimental-features",
            "nix-command",
            "path-info",
            "--json",
            "--recursive",
            env_path,
        ])
        .await?;
    closure_from_path_info(&json, vec![env_path.to_string()])
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PathInfo {
    path: String,
    nar_size: u64,
    #[serde(default)]
    nar_hash: String,
    #[serde(default)]
    references: Vec<String>,
}

/// `nix path-info --json --recursive` (Nix 2.8's array form) → [`ClosureGraph`], paths sorted.
pub fn closure_from_path_info(json: &[u8], roots: Vec<String>) -> Result<ClosureGraph, BuildError> {
    let infos: Vec<PathInfo> = serde_json::from_slice(json)
        .map_err(|e| BuildError::Other(format!("reading `nix path-info --json`: {e}")))?;
    let mut paths: Vec<StorePathInfo> = infos
        .into_iter()
        .map(|i| StorePathInfo {
            path: i.path,
            nar_size: i.nar_size,
            nar_hash: i.nar_hash,
            closure_size: None,
            references: i.references,
        })
        .collect();
    paths.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(ClosureGraph { roots, paths })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_positions_in_project_files_are_bad_input() {
        assert!(names_project_position(
            "error: attribute 'nosuchthing' missing\n  at /build/project/user.nix:4:3:"
        ));
        assert!(names_project_position(
            "at /build/project/presets/python.nix:2:1"
        ));
        assert!(!names_project_position(
            "error: builder failed in /build/pkgs/default.nix:3:1"
        ));
        assert!(!names_project_position("reading /build/project/user.nix"));
        assert!(!names_project_position(
            "error: unable to download 'https://x/y.tar.gz'\n  at /build/project/base.nix:3:9"
        ));
        assert!(!names_project_position(""));
    }

    #[test]
    fn path_info_json_from_nix_2_8_becomes_a_graph() {
        // Recorded from the builder: the closure of the test package set's hello.
        let json = br#"[{"path":"/nix/store/nwkjn8lczkvfk8a7v90yj4xjr29wnmg0-hello-2.12.1","narHash":"sha256-IbnYq6cogn5A5b/+Sx2Qe2AlCI/4UqdgTAsmf/XhI1I=","narSize":568,"references":["/nix/store/smc6m7p2qzm4171l0hc99prqpck5yj2i-shell-1.0"],"deriver":"/nix/store/mpjzy432ga90f085ll5r9bz382xdv3jf-hello-2.12.1.drv","registrationTime":1795428382,"ultimate":true},{"path":"/nix/store/qc4y3qpn44grjajar9scvd7179kldwqy-busybox-1.35.0","narHash":"sha256-gnrG9qZ4EoLkK7Lw/6/COHG55s9O1M/bMPRnS2iH9jY=","narSize":2034368,"references":[],"deriver":"/nix/store/4wg2vbvgmfn4z1vlpnysaszjva5ss6d7-busybox-1.35.0.drv","registrationTime":1795428382,"ultimate":true},{"path":"/nix/store/smc6m7p2qzm4171l0hc99prqpck5yj2i-shell-1.0","narHash":"sha256-qSU3dGVWymmKkiaApksBRCcGf9pNQLKxCHPJINBV084=","narSize":10504,"references":["/nix/store/qc4y3qpn44grjajar9scvd7179kldwqy-busybox-1.35.0"],"deriver":"/nix/store/6caspmiizbdp5zsmai429awmxlk8q04m-shell-1.0.drv","registrationTime":1795428382,"ultimate":true}]"#;
        let root = "/nix/store/nwkjn8lczkvfk8a7v90yj4xjr29wnmg0-hello-2.12.1".to_string();
        let graph = closure_from_path_info(json, vec![root.clone()]).unwrap();
        assert_eq!(graph.roots, vec![root]);
        assert_eq!(graph.paths.len(), 3);
        assert_eq!(graph.total_nar_size(), 568 + 2034368 + 10504);
        assert!(graph.paths[0].path.ends_with("hello-2.12.1"));
        assert_eq!(
            graph.paths[2].references,
            ["/nix/store/qc4y3qpn44grjajar9scvd7179kldwqy-busybox-1.35.0"]
        );
    }

    #[test]
    fn only_paths_inside_the_project_are_accepted() {
        assert_eq!(
            inside_project("./user.nix"),
            Some(PathBuf::from("user.nix"))
        );
        assert_eq!(
            inside_project("presets/python.nix"),
            Some(PathBuf::from("presets/python.nix"))
        );
        assert_eq!(inside_project("../x.nix"), None);
        assert_eq!(inside_project("/etc/x.nix"), None);
    }

    #[test]
    fn the_upload_skips_the_workdir_but_local_nix_and_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "base.nix",
            "presets/python.nix",
            "workdir/local.nix",
            "workdir/big.bin",
            "workdir/src/x",
            ".git/config",
        ] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "[ ]").unwrap();
        }
        let project = Project {
            root: dir.path().to_path_buf(),
            config: serde_json::from_str(r#"{"baseConfig": "base.nix", "userConfig": []}"#)
                .unwrap(),
        };
        let set = upload_set(
            &project,
            &[
                "base.nix".into(),
                "presets/python.nix".into(),
                "workdir/local.nix".into(),
            ],
        )
        .unwrap();
        let project_filter = |rel: &Path, is_dir| set.includes(rel, is_dir);
        assert!(project_filter(Path::new("base.nix"), false));
        assert!(project_filter(Path::new("presets"), true));
        assert!(project_filter(Path::new("workdir"), true));
        assert!(project_filter(Path::new("workdir/local.nix"), false));
        assert!(!project_filter(Path::new("workdir/src"), true));
        assert!(!project_filter(Path::new("workdir/big.bin"), false));
        assert!(!project_filter(Path::new(".git"), true));
    }
}
