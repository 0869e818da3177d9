//! `biar-tui init [DIR] [--preset NAME]… [--nixpkgs PATH|URL|channel:NAME]`: a new project.

use std::path::PathBuf;
use std::process::ExitCode;

use biar::init::{InitOptions, NixpkgsChoice};

use crate::args::Global;
use crate::cli::print::outln;
use crate::exit::BadInput;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The folder of the new project (created if missing); default: --project, i.e. here.
    pub dir: Option<PathBuf>,
    /// A shipped preset to turn on (repeat for more); `biar-tui presets` lists them.
    #[arg(long = "preset", value_name = "NAME")]
    pub presets: Vec<String>,
    /// The package set: a local folder, a tarball URL (with --sha256) or `channel:NAME`;
    /// default: the same pinned nixpkgs tarball as example/.
    #[arg(long, value_name = "PATH|URL")]
    pub nixpkgs: Option<String>,
    /// The Nix hash of the --nixpkgs tarball.
    #[arg(long, value_name = "HASH", requires = "nixpkgs")]
    pub sha256: Option<String>,
    /// Build with no binary cache (builder.substituters: []), e.g. for a local package set.
    #[arg(long)]
    pub offline: bool,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let dir = args.dir.clone().unwrap_or_else(|| global.project.clone());
    let nixpkgs = match (args.nixpkgs, args.sha256) {
        (None, _) => NixpkgsChoice::Default,
        (Some(n), _) if n.starts_with("channel:") => {
            NixpkgsChoice::Channel(n["channel:".len()..].to_string())
        }
        (Some(url), Some(sha256)) if url.contains("://") => NixpkgsChoice::Tarball { url, sha256 },
        (Some(url), None) if url.contains("://") => {
            return Err(BadInput(format!(
                "--nixpkgs {url}: a tarball needs its Nix hash too (--sha256 HASH, as \
                 `nix-prefetch-url --unpack URL` prints it)"
            ))
            .into())
        }
        (Some(path), _) => NixpkgsChoice::Path(path),
    };
    let options = InitOptions {
        presets: args.presets,
        nixpkgs,
        offline: args.offline,
    };
    let target = dir.clone();
    let written =
        tokio::task::spawn_blocking(move || biar::init::init(&target, &options)).await??;
    outln!(
        "created a project in {}: {}",
        dir.display(),
        written.join(", ")
    );
    outln!(
        "next: `biar-tui --project {0}` opens it; `biar-tui add NAME` adds packages; \
         `biar-tui build` builds it",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
