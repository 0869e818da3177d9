//! `biar-tui export coder|devcontainer [--out DIR]`: the files a workspace platform consumes for
//! the project's image (`main.tf`, `.devcontainer/devcontainer.json`). An existing file is never
//! overwritten: exit 2 and nothing written.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use biar::config::Project;
use biar::export::{coder_main_tf, devcontainer_json, ExportInput};

use crate::args::Global;
use crate::cli::print::outln;
use crate::exit::BadInput;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Platform {
    /// A Coder Docker template: main.tf.
    Coder,
    /// A Dev Containers configuration: .devcontainer/devcontainer.json.
    Devcontainer,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    pub platform: Platform,
    /// Where to write (default: the project folder).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub async fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let dir = global.project.clone();
    let written = tokio::task::spawn_blocking(move || -> anyhow::Result<PathBuf> {
        let project = Project::load(&dir)?;
        let reference = project.image_ref()?.reference();
        let input = ExportInput {
            reference: &reference,
            settings: &project.config.image,
        };
        let out = args.out.unwrap_or_else(|| project.root.clone());
        let (file, text) = match args.platform {
            Platform::Coder => (out.join("main.tf"), coder_main_tf(&input)),
            Platform::Devcontainer => (
                out.join(".devcontainer").join("devcontainer.json"),
                devcontainer_json(&input),
            ),
        };
        write_new(&file, text.as_bytes())?;
        Ok(file)
    })
    .await??;
    outln!("wrote {}", written.display());
    Ok(ExitCode::SUCCESS)
}

/// Writes `file` only if nothing is there (`O_EXCL`: not even a link), its folder made if need
/// be; a failed write removes the partial file.
fn write_new(file: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if std::fs::symlink_metadata(file).is_ok() {
        return Err(BadInput(format!(
            "{} already exists: not overwritten (move it away, or use --out DIR)",
            file.display()
        ))
        .into());
    }
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| anyhow::anyhow!("{}: {e}", parent.display()))?;
    }
    let mut f = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(BadInput(format!(
                "{} already exists: not overwritten",
                file.display()
            ))
            .into())
        }
        Err(e) => return Err(anyhow::anyhow!("{}: {e}", file.display())),
    };
    if let Err(e) = f.write_all(bytes).and_then(|()| f.sync_all()) {
        let _ = std::fs::remove_file(file);
        return Err(anyhow::anyhow!("{}: {e}", file.display()));
    }
    Ok(())
}
