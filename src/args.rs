//! The arguments: clap definitions, and the dispatch to a command (`cli`) or, with no
//! subcommand, the terminal UI (`tui`). Errors become exit codes in `exit`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cli::commands;

#[derive(Debug, Parser)]
#[command(
    name = "biar-tui",
    version,
    about = "Coding environments from Nix packages, as layered container images",
    long_about = "Manage an environment project (config.json, base.nix, presets, user.nix, workdir/): \
                  toggle presets, search nixpkgs and edit your Nix file in place, build the image in a \
                  builder container, push it, and run it attached to this terminal.\n\n\
                  With no subcommand, opens the terminal UI on the project."
)]
pub struct Cli {
    /// The environment project folder (holding config.json).
    #[arg(
        long,
        short = 'p',
        global = true,
        default_value = ".",
        value_name = "DIR"
    )]
    pub project: PathBuf,

    /// TUI theme: a name from themes/ or the user config folder, or a path to a .toml file.
    #[arg(long, global = true, value_name = "THEME")]
    pub theme: Option<String>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new project (config.json, base.nix, user.nix, workdir/, presets), overwriting nothing.
    Init(commands::init::Args),
    /// List the presets with their descriptions and whether each is on.
    Presets(commands::presets::Args),
    /// Turn a preset on or off (in userConfig of config.json).
    Toggle(commands::toggle::Args),
    /// Add packages to your Nix file, in place.
    Add(commands::add::Args),
    /// Remove packages from your Nix file, in place.
    Remove(commands::remove::Args),
    /// List every package of every userConfig file.
    List(commands::list::Args),
    /// Print the image reference (name:tag) the configuration maps to.
    Hash(commands::hash::Args),
    /// Fuzzy-search the package index.
    Search(commands::search::Args),
    /// Manage the package index.
    Index(commands::index::Args),
    /// Manage the builder container's image and Nix store volume.
    Builder(commands::builder::Args),
    /// Build the environment image (and push it with --push).
    Build(commands::build::Args),
    /// Pull the environment image from the registry into Docker.
    Pull(commands::pull::Args),
    /// Run the environment attached to this terminal (a shell, or CMD).
    Run(commands::run::Args),
    /// What the environment is made of: each package's own, closure and added size, why a path
    /// is there, which layer it lands in (builds the closure, makes no image).
    Closure(commands::closure::Args),
    /// What changes between generations, or from the last one to the current configuration, and
    /// what a push would upload, mount or skip (nothing is sent).
    Diff(commands::diff::Args),
    /// The project's generations: every build or push, with image, packages and closure size.
    History(commands::history::Args),
    /// Check an image against a workspace profile (coder, devcontainer): pass / fail / fix.
    Doctor(commands::doctor::Args),
    /// Write the files a workspace platform needs for the image (Coder main.tf, devcontainer.json).
    Export(commands::export::Args),
    /// Serve images by name, built on demand: `docker pull HOST/shell/git/jq` (an OCI registry).
    Serve(crate::serve::Args),
    /// Internal: started by biar-tui itself; removes its containers when it dies, even by SIGKILL
    /// (see docs/security.md).
    #[command(name = "__watch-containers", hide = true)]
    WatchContainers,
}

/// Options every command sees.
#[allow(dead_code)] // read by the commands as they land
#[derive(Debug, Clone)]
pub struct Global {
    pub project: PathBuf,
    pub theme: Option<String>,
}

pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::WatchContainers) = cli.command {
        biar::docker::owner::serve_watcher().await;
        return ExitCode::SUCCESS;
    }
    // The containers this process creates are watched by a helper process, this binary again
    // (through /proc/self/exe, which still runs it if the file was replaced meanwhile).
    let exe = Some(PathBuf::from("/proc/self/exe"))
        .filter(|p| p.exists())
        .or_else(|| std::env::current_exe().ok());
    if let Some(exe) = exe {
        biar::docker::owner::set_watcher(exe, vec!["__watch-containers".into()]);
    }
    let global = Global {
        project: cli.project,
        theme: cli.theme,
    };
    let result = match cli.command {
        None => crate::tui::run(&global).await,
        Some(Command::Serve(args)) => crate::serve::run(args).await,
        Some(command) => crate::cli::dispatch(&global, command).await,
    };
    crate::exit::report(result)
}
