//! `doctor` with no arguments: the project's own image judged against its `image.profile`.

use std::path::Path;

use crate::config::Project;
use crate::doctor::Report;

use super::Error;

/// The doctor's report on the image of the project in `dir`.
pub async fn doctor_project(dir: &Path) -> Result<Report, Error> {
    let dir = dir.to_path_buf();
    let project = tokio::task::spawn_blocking(move || Project::load(&dir))
        .await
        .expect("loading the project does not panic")?;
    let image = project.image_ref()?.reference();
    let engine = crate::docker::connect().await?;
    let profile = Some(project.config.image.profile);
    Ok(crate::doctor::diagnose(&engine, &image, profile).await?)
}
