//! `biar-tui pull`: the project's `name:tag` from the configured registry into Docker (through
//! the Engine's API), tagged with its local name.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Mutex;

use biar::config::{ImageRef, Project};
use biar::operations::{self, PullEvent, Pulled};
use biar::registry::RegistryTarget;

use crate::args::Global;
use crate::cli::print::{errln, outln};
use crate::exit::BadInput;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pull this image (NAME:TAG) instead of the project's.
    #[arg(long, value_name = "NAME:TAG")]
    pub image: Option<String>,
    /// The registry (HOST[:PORT][/NAMESPACE]) instead of the configured one.
    #[arg(long, value_name = "HOST")]
    pub registry: Option<String>,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let project = if args.image.is_some() && args.registry.is_some() {
        None
    } else {
        Some(Project::load(&global.project)?)
    };
    let image = match &args.image {
        Some(text) => parse_image(text)?,
        None => project.as_ref().expect("loaded").image_ref()?,
    };
    let target = match (&args.registry, &project) {
        (Some(r), _) => RegistryTarget::parse(r, "", false),
        (None, Some(p)) => RegistryTarget::from_config(&p.config).ok_or_else(|| {
            BadInput(format!(
                "{}: no registry is configured\n  set registry.host (or DOCKER_REGISTRY_HOST) in it, or pass --registry HOST",
                p.config_path().display()
            ))
        })?,
        (None, None) => unreachable!("a project is loaded when --registry is missing"),
    };
    // One line per layer and status change (not per byte of progress).
    let last: Mutex<HashMap<String, String>> = Mutex::new(HashMap::new());
    let pulled = operations::pull(&image, &target, &|event| match event {
        PullEvent::Started { remote } => errln!("pulling {remote}"),
        PullEvent::Progress(p) => {
            // Per layer only what tells the story: had it, or pulled it.
            let wanted = ["Already exists", "Pull complete", "Digest:", "Status:"];
            if !wanted.iter().any(|w| p.status.starts_with(w)) {
                return;
            }
            let id = p.id.clone().unwrap_or_default();
            let mut last = last.lock().unwrap();
            if last.get(&id) == Some(&p.status) {
                return;
            }
            last.insert(id.clone(), p.status.clone());
            if id.is_empty() {
                errln!("  {}", p.status);
            } else {
                errln!("  {id}: {}", p.status);
            }
        }
    })
    .await?;
    match pulled {
        Pulled::AlreadyThere => outln!("{image} is already in Docker: nothing to pull"),
        Pulled::Pulled { remote } => outln!("pulled {remote} as {image}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_image(text: &str) -> Result<ImageRef, BadInput> {
    let (name, tag) = text.rsplit_once(':').unwrap_or((text, "latest"));
    biar::registry::validate_repository(name)
        .and_then(|_| biar::registry::validate_tag(tag))
        .map_err(|reason| BadInput(format!("--image {text}: {reason}")))?;
    Ok(ImageRef {
        name: name.to_string(),
        tag: tag.to_string(),
    })
}
