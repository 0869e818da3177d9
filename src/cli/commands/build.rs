use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use biar::build::{BuildEvent, BuildOptions, BuildOutput};
use biar::config::Project;
use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::cli::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Push the image to the configured registry.
    #[arg(long)]
    pub push: bool,
    /// Write the closure graph (exportReferencesGraph JSON) to FILE.
    #[arg(long, value_name = "FILE")]
    pub closure_json: Option<std::path::PathBuf>,
    /// Print JSON lines of build events.
    #[arg(long)]
    pub json: bool,
    /// Show the build's own log lines.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let project = Project::load(&global.project)?;
    // The identity is known before building: an image already in Docker means nothing to do.
    let identity = project.image_ref().ok();
    if let (Some(reference), false) = (&identity, args.push) {
        let engine = biar::docker::connect().await?;
        if biar::image::image_exists(&engine, &reference.reference()).await? {
            report_up_to_date(&args, &reference.reference());
            return Ok(ExitCode::SUCCESS);
        }
    }
    if let (Some(reference), true) = (&identity, args.push) {
        if push_up_to_date(&project, reference, &args).await? {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let built = build_project(&project, &args).await?;
    if let Some(file) = &args.closure_json {
        write_closure_json(file, &built)?;
    }
    let size: u64 = built.closure.total_nar_size();
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "event": "built",
                "env_path": built.env_path,
                "roots": built.roots,
                "packages": built.packages,
                "paths": built.closure.paths.len(),
                "nar_size": size,
            })
        );
    } else {
        println!(
            "environment: {} ({} store paths, {:.1} MB)",
            built.env_path,
            built.closure.paths.len(),
            size as f64 / 1e6
        );
    }
    let mut result = make_image(&project, identity, &built, &args).await;
    if let (Ok(image), true) = (&result, args.push) {
        if let Err(e) = push_built(&project, image, &built, &args).await {
            result = Err(e);
        }
    }
    built.container.remove().await;
    result?;
    Ok(ExitCode::SUCCESS)
}

fn report_up_to_date(args: &Args, reference: &str) {
    if args.json {
        println!(
            "{}",
            serde_json::json!({"event": "up_to_date", "reference": reference})
        );
    } else {
        println!("{reference} is up to date in Docker: nothing built or sent");
    }
}

/// The image step: layers (digests from the cache, or measured from the builder's store), the
/// root layer and config, then a load of the layers Docker lacks.
pub async fn make_image(
    project: &Project,
    identity: Option<biar::config::ImageRef>,
    built: &BuildOutput,
    args: &Args,
) -> anyhow::Result<biar::image::ImageDescriptor> {
    use biar::image::{BuilderStore, ImageInput, LayerCache};
    let engine = built.container.engine().clone();
    // Until the configuration hashes exist, the environment's own store hash names the image.
    let reference = identity.unwrap_or_else(|| biar::config::ImageRef {
        name: format!("{}env", project.config.image.name_prefix),
        tag: built
            .env_path
            .trim_start_matches("/nix/store/")
            .split('-')
            .next()
            .unwrap_or("latest")
            .to_string(),
    });
    let packages: Vec<&str> = built
        .packages
        .iter()
        .map(|p| {
            p.trim_start_matches("/nix/store/")
                .split_once('-')
                .map_or(p.as_str(), |(_, n)| n)
        })
        .collect();
    let labels = BTreeMap::from([
        ("biar.name".to_string(), reference.name.clone()),
        ("biar.base-hash".to_string(), base_hash(project, &reference)),
        ("biar.user-hash".to_string(), reference.tag.clone()),
        ("biar.packages".to_string(), packages.join(" ")),
    ]);
    let input = ImageInput {
        reference: reference.clone(),
        env_path: &built.env_path,
        closure: &built.closure,
        settings: &project.config.image,
        strategy: Default::default(),
        labels,
    };
    let source = BuilderStore {
        engine: engine.clone(),
        container: built.container.id().to_string(),
    };
    let json = args.json;
    let events = move |e: BuildEvent| {
        if json {
            if let Ok(line) = serde_json::to_string(&e) {
                println!("{line}");
            }
        }
    };
    let started = Instant::now();
    let cache = LayerCache::open_default();
    let image = biar::image::assemble(&input, &source, &cache, &events).await?;
    let store_layers = image.layers.len() - 1;
    if !json {
        eprintln!(
            "layers: {} store layers + root layer, {:.1} MB ({:.1}s)",
            store_layers,
            image.layers.iter().map(|l| l.size).sum::<u64>() as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
    }
    if !args.push {
        let started = Instant::now();
        let summary = biar::image::load_into_docker(&engine, &image, &source, &events).await?;
        if json {
            println!(
                "{}",
                serde_json::json!({"event": "loaded", "reference": reference.reference(), "summary": summary})
            );
        } else if summary.already_present {
            println!("{reference} is up to date in Docker: nothing sent");
        } else {
            println!(
                "loaded {reference}: {} layers sent ({:.1} MB), {} reused ({:.1} MB) in {:.1}s",
                summary.layers_sent,
                summary.bytes_sent as f64 / 1e6,
                summary.layers_reused,
                summary.bytes_reused as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(image)
}

/// The base configuration's hash: the image name without its prefix.
fn base_hash(project: &Project, reference: &biar::config::ImageRef) -> String {
    reference
        .name
        .strip_prefix(&project.config.image.name_prefix)
        .unwrap_or(&reference.name)
        .to_string()
}

/// The Nix part of `build`: builds the project in the builder with live progress on
/// stderr (a bar on a terminal, plain lines otherwise, JSON lines on stdout with `--json`), and
/// stops cleanly on Ctrl-C or SIGTERM. The image step continues from the returned output.
pub async fn build_project(project: &Project, args: &Args) -> anyhow::Result<BuildOutput> {
    let engine = biar::docker::connect().await?;
    let cancel = CancellationToken::new();
    let nix_done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    tokio::spawn(cancel_on_signals(cancel.clone(), nix_done.clone()));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<BuildEvent>(1024);
    let mut reporter = Reporter::new(args);
    let report_task = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            reporter.on(&event);
        }
        reporter.finish();
    });
    let result = biar::build::run(&engine, project, &BuildOptions::default(), tx, cancel).await;
    let _ = report_task.await;
    // Signals stay handled for the rest of the command (the image step).
    nix_done.store(true, std::sync::atomic::Ordering::SeqCst);
    Ok(result?)
}

/// Cancels the Nix build on the first Ctrl-C or SIGTERM. Once the Nix build is over, a signal
/// ends the command: installing a handler replaced the default action, and what runs then (the
/// image step) streams from the builder container, which goes away with this process.
async fn cancel_on_signals(
    cancel: CancellationToken,
    nix_done: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    cancel.cancel();
    if nix_done.load(std::sync::atomic::Ordering::SeqCst) {
        eprintln!("error: cancelled");
        std::process::exit(1);
    }
}

fn write_closure_json(file: &Path, built: &BuildOutput) -> anyhow::Result<()> {
    let json = serde_json::to_vec_pretty(&built.closure.paths)?;
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, json).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, file).with_context(|| format!("writing {}", file.display()))?;
    Ok(())
}

enum Mode {
    Bar(ProgressBar),
    Plain,
    Json,
}

/// Shows build events: counts, what builds now and its phase, elapsed time, logs under -v.
struct Reporter {
    mode: Mode,
    verbose: bool,
    started: Instant,
    done: u64,
    expected: u64,
    building: BTreeMap<String, (String, Option<String>)>,
}

impl Reporter {
    fn new(args: &Args) -> Reporter {
        let mode = if args.json {
            Mode::Json
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
            verbose: args.verbose,
            started: Instant::now(),
            done: 0,
            expected: 0,
            building: BTreeMap::new(),
        }
    }

    fn on(&mut self, event: &BuildEvent) {
        if let Mode::Json = self.mode {
            if self.verbose || !matches!(event, BuildEvent::Log { .. }) {
                if let Ok(line) = serde_json::to_string(event) {
                    println!("{line}");
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
                Some(drv) => format!("{}> {}", self.name_of(drv), neutralise(line)),
                None => neutralise(line),
            }),
            // Errors (level 0) come once, in the final error message.
            BuildEvent::Message { level, text } => {
                (*level == 1 || (self.verbose && (1..=3).contains(level))).then(|| neutralise(text))
            }
            BuildEvent::Layer { .. } | BuildEvent::Done { .. } => None,
        };
        match &self.mode {
            Mode::Bar(bar) => {
                if let Some(line) = line {
                    bar.println(line);
                }
                bar.set_message(self.status());
            }
            Mode::Plain => {
                if let Some(line) = line {
                    eprintln!("[{:>5.1}s] {line}", self.started.elapsed().as_secs_f64());
                }
            }
            Mode::Json => {}
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

    fn finish(&mut self) {
        if let Mode::Bar(bar) = &self.mode {
            bar.finish_and_clear();
        }
        if !matches!(self.mode, Mode::Json) && self.expected > 0 {
            eprintln!(
                "{}/{} derivations built, {:.1}s",
                self.done,
                self.expected,
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}

/// Build logs may hold terminal control sequences: keep colours (SGR), drop the rest.
fn neutralise(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            let mut seq = String::from(c);
            if chars.peek() == Some(&'[') {
                seq.push(chars.next().unwrap_or('['));
                for c in chars.by_ref() {
                    seq.push(c);
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
                if seq.ends_with('m') {
                    out.push_str(&seq);
                }
            }
        } else if c.is_control() && c != '\t' {
            continue;
        } else {
            out.push(c);
        }
    }
    out
}

/// The configured registry, or a bad-input error saying how to configure one.
fn push_target(project: &Project) -> anyhow::Result<biar::registry::RegistryTarget> {
    biar::registry::RegistryTarget::from_config(&project.config).ok_or_else(|| {
        crate::cli::BadInput(format!(
            "{}: --push needs a registry: set registry.host (or DOCKER_REGISTRY_HOST) in it",
            project.config_path().display()
        ))
        .into()
    })
}

/// `--push` with `name:tag` already tagged in the registry: nothing to build or send.
async fn push_up_to_date(
    project: &Project,
    reference: &biar::config::ImageRef,
    args: &Args,
) -> anyhow::Result<bool> {
    let target = push_target(project)?;
    if !biar::registry::exists_in_registry(&target, reference).await? {
        return Ok(false);
    }
    let remote = target.reference(reference)?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"event": "up_to_date", "reference": remote.to_string()})
        );
    } else {
        println!("{remote} is up to date in the registry: nothing built or sent");
    }
    Ok(true)
}

/// `--push`: sends the layers the registry lacks (streamed from the builder's store, verified
/// against their digests), then the manifest; reports layers sent / reused and bytes.
async fn push_built(
    project: &Project,
    image: &biar::image::ImageDescriptor,
    built: &BuildOutput,
    args: &Args,
) -> anyhow::Result<()> {
    use biar::registry::{ByteStream, Descriptor};
    use std::sync::Arc;
    let target = push_target(project)?;
    let source: Arc<dyn biar::image::NarSource> = Arc::new(biar::image::BuilderStore {
        engine: built.container.engine().clone(),
        container: built.container.id().to_string(),
    });
    let open = |d: &Descriptor| {
        let stream: std::io::Result<ByteStream> = match image.layer(&d.digest) {
            Some(layer) => Ok(Box::pin(image.open_layer(layer, source.clone()))),
            None => Err(std::io::Error::other(format!(
                "{} is not a layer of this image",
                d.digest
            ))),
        };
        Box::pin(async move { stream }) as _
    };
    let json = args.json;
    let events = move |e: BuildEvent| {
        if json {
            if let Ok(line) = serde_json::to_string(&e) {
                println!("{line}");
            }
        } else if let BuildEvent::Layer {
            index,
            total,
            digest,
            size,
            reused: false,
        } = &e
        {
            eprintln!(
                "  sent layer {}/{total} {} ({:.1} MB)",
                index + 1,
                &digest[..digest.len().min(19)],
                *size as f64 / 1e6
            );
        }
    };
    let started = Instant::now();
    let push_image = image.push_image();
    let push =
        biar::registry::push_to_target(&target, &image.reference, &push_image, &open, &events);
    // The build's signal handler is gone by now, and tokio keeps SIGINT caught: handle Ctrl-C
    // here. Stopping is safe at any point: the manifest goes last, so nothing is half-tagged.
    let (remote, summary) = tokio::select! {
        r = push => r?,
        _ = tokio::signal::ctrl_c() => anyhow::bail!(
            "push cancelled: nothing was tagged; re-run `biar-tui build --push` to finish (blobs already sent are skipped)"
        ),
    };
    if json {
        println!(
            "{}",
            serde_json::json!({"event": "pushed", "reference": remote.to_string(), "summary": summary})
        );
    } else if summary.already_present {
        println!("{remote} is up to date in the registry: nothing sent");
    } else {
        println!(
            "pushed {remote}: {} blobs sent ({:.1} MB), {} reused ({:.1} MB), {} mounted in {:.1}s",
            summary.blobs_sent,
            summary.bytes_sent as f64 / 1e6,
            summary.blobs_reused,
            summary.bytes_reused as f64 / 1e6,
            summary.blobs_mounted,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn logs_keep_colours_but_lose_other_control_sequences() {
        assert_eq!(
            neutralise("\u{1b}[31mred\u{1b}[0m\u{1b}[2J\rx\u{7}"),
            "\u{1b}[31mred\u{1b}[0mx"
        );
    }
}
