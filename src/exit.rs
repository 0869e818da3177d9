//! Errors become a message on stderr and an exit code (0 success, 1 failure, 2 bad input or usage):
//! the one place, at the binary's edge, for the CLI and the TUI alike.

use std::process::ExitCode;

use crate::cli::print::errln;
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
            biar::init::InitError,
            biar::index::IndexError,
            biar::docker::DockerError,
            biar::nixbuild::BuildError,
            biar::image::ImageError,
            biar::registry::RegistryError,
            biar::run::RunError,
            biar::inspect::InspectError,
            biar::doctor::DoctorError
        );
    }
    Category::Failure
}

/// The error and its causes, `outer: cause: cause`, each said once. Our errors say their source
/// in their own message (`{path}: {source}`, so a front end showing one message loses nothing)
/// and also chain it, so `{:#}` would repeat it (`…: No space left on device: No space left on
/// device`): a cause whose text was already said is left out.
pub fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let said = cause.to_string();
        if text.contains(&said) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&said);
    }
    text
}

/// Prints the error (with its causes) and picks the exit code.
pub fn report(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            errln!("error: {}", error_text(&err));
            // A build a signal cancelled: 128 + the signal, as shells report it.
            if let Some(signal) = crate::cli::cancelled_by() {
                return ExitCode::from((128 + signal) as u8);
            }
            match category_of(&err) {
                Category::BadInput => ExitCode::from(2),
                Category::Failure => ExitCode::from(1),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::error_text;

    #[test]
    fn a_cause_the_message_already_says_is_not_repeated() {
        let full = std::io::Error::from_raw_os_error(28); // ENOSPC
        let err = biar::index::IndexError::Io {
            path: "/cache/index".into(),
            source: full,
        };
        let err = anyhow::Error::from(err).context("updating the index");
        let text = error_text(&err);
        assert_eq!(text.matches("No space left on device").count(), 1, "{text}");
        assert!(
            text.starts_with("updating the index: /cache/index"),
            "{text}"
        );
        // A cause not yet said is kept.
        let err = anyhow::Error::from(std::io::Error::from_raw_os_error(28)).context("writing x");
        assert_eq!(
            error_text(&err),
            "writing x: No space left on device (os error 28)"
        );
    }
}
