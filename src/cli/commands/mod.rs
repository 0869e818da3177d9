//! One file per subcommand; each owns its clap `Args` and a `run`.

pub mod add;
pub mod build;
pub mod builder;
pub mod closure;
pub mod diff;
pub mod doctor;
pub mod export;
pub mod hash;
pub mod history;
pub mod index;
pub mod init;
pub mod list;
pub mod presets;
pub mod pull;
pub mod remove;
pub mod run;
pub mod search;
pub mod toggle;

use std::process::ExitCode;

use crate::args::{Command, Global};

pub async fn dispatch(global: &Global, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Init(args) => init::run(global, args).await,
        Command::Presets(args) => presets::run(global, args).await,
        Command::Toggle(args) => toggle::run(global, args).await,
        Command::Add(args) => add::run(global, args).await,
        Command::Remove(args) => remove::run(global, args).await,
        Command::List(args) => list::run(global, args).await,
        Command::Hash(args) => hash::run(global, args).await,
        Command::Search(args) => search::run(global, args).await,
        Command::Index(args) => index::run(global, args).await,
        Command::Builder(args) => builder::run(global, args).await,
        Command::Build(args) => build::run(global, args).await,
        Command::Pull(args) => pull::run(global, args).await,
        Command::Run(args) => run::run(global, args).await,
        Command::Closure(args) => closure::run(global, args).await,
        Command::History(args) => history::run(global, args).await,
        Command::Diff(args) => diff::run(global, args).await,
        Command::Doctor(args) => doctor::run(global, args).await,
        Command::Export(args) => export::run(global, args).await,
        Command::WatchContainers | Command::Serve(_) => unreachable!("handled before dispatch"),
    }
}
