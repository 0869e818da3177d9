//! What a front end shows of a project at a glance: its image, presets, package files and
//! registry. Read only; a file that does not load is reported in its place, not as a failure.

use std::path::{Path, PathBuf};

use crate::config::Project;
use crate::nixexpr::PackageFile;
use crate::presets::Preset;

use super::{registry_label, Error};

/// The project in one read.
#[derive(Debug)]
pub struct Overview {
    pub root: PathBuf,
    /// `name:tag`, or why the configuration names no image.
    pub image: Result<String, Error>,
    pub presets: Vec<Preset>,
    /// The userConfig files in order.
    pub files: Vec<FileOverview>,
    /// `host[/namespace]` of the configured registry.
    pub registry: Option<String>,
}

/// One userConfig file: its packages' attribute paths, or why it does not load.
#[derive(Debug)]
pub struct FileOverview {
    pub name: String,
    pub packages: Result<Vec<String>, Error>,
}

/// The overview of the project in `dir`; an error only when the project itself does not load.
pub fn overview(dir: &Path) -> Result<Overview, Error> {
    let project = Project::load(dir)?;
    let files = project
        .config
        .user_config
        .iter()
        .map(|name| FileOverview {
            name: name.clone(),
            packages: packages_of(&project, name),
        })
        .collect();
    Ok(Overview {
        root: project.root.clone(),
        image: project
            .image_ref()
            .map(|r| r.reference())
            .map_err(Error::from),
        presets: crate::presets::list(&project)?,
        files,
        registry: registry_label(&project),
    })
}

fn packages_of(project: &Project, name: &str) -> Result<Vec<String>, Error> {
    let path = project.resolve(name)?;
    let file = PackageFile::load(&path)?;
    Ok(file.packages().iter().map(|p| p.attr.to_string()).collect())
}
