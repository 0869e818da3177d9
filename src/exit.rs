//! Errors become a message on stderr and an exit code (0 success, 1 failure, 2 bad input or usage):
//! the one place, at the binary's edge, for the CLI and the TUI alike.

use std::process::ExitCode;

use biar::Category;

/// A CLI-level error that is the user's input at fault (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// The category of an error anywhere in the chain (the first typed one wins).
pub fn category_of(err: &anyhow::Error) -> Category {
    for cause in err.chain() {
        if cause.downcast_ref::<BadInput>().is_some() {
            return Category::BadInput;
        }
        if let Some(e) = cause.downcast_ref::<biar::Error>() {
            return e.category();
        }
        macro_rules! typed {
            ($($t:ty),*) => {$(
                if let Some(e) = cause.downcast_ref::<$t>() {
                    return e.category();
                }
            )*};
        }
        typed!(
            biar::config::ConfigError,
            biar::nixexpr::NixError,
            biar::presets::PresetError,
            biar::index::IndexError,
            biar::docker::DockerError,
            biar::nixbuild::BuildError,
            biar::image::ImageError,
            biar::registry::RegistryError,
            biar::run::RunError
        );
    }
    Category::Failure
}

/// Prints the error (with its causes) and picks the exit code.
pub fn report(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            match category_of(&err) {
                Category::BadInput => ExitCode::from(2),
                Category::Failure => ExitCode::from(1),
            }
        }
    }
}
