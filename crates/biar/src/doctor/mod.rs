//! The image doctor: checks any image in the engine against a workspace profile's rules
//! ([`rules`]), from its config and files ([`probe`]), and says per rule pass / fail / why and
//! what to configure to fix it.

mod probe;
pub mod rules;

use serde::Serialize;
use thiserror::Error;

pub use probe::image_facts;
pub use rules::{evaluate, Check, ImageFacts, Status};

use crate::category::Category;
use crate::docker::{DockerError, Engine};
use crate::profile::{Profile, PROFILE_LABEL};

#[derive(Debug, Error)]
pub enum DoctorError {
    #[error(
        "{reference}: no such image in the Docker Engine (build it, pull it, or check the name)"
    )]
    NoImage { reference: String },
    #[error(transparent)]
    Docker(#[from] DockerError),
}

impl DoctorError {
    pub fn category(&self) -> Category {
        match self {
            DoctorError::NoImage { .. } => Category::BadInput,
            DoctorError::Docker(e) => e.category(),
        }
    }
}

/// The doctor's verdict on one image.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub image: String,
    pub profile: Profile,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.status == Status::Pass)
    }
}

/// Checks `reference` against `profile`, or else the profile its `biar.profile` label names, or
/// else `plain`.
pub async fn diagnose(
    engine: &Engine,
    reference: &str,
    profile: Option<Profile>,
) -> Result<Report, DoctorError> {
    let facts = image_facts(engine, reference).await?;
    let profile = profile
        .or_else(|| {
            facts
                .labels
                .get(PROFILE_LABEL)
                .and_then(|p| Profile::parse(p))
        })
        .unwrap_or_default();
    Ok(Report {
        image: reference.to_string(),
        profile,
        checks: evaluate(&facts, profile),
    })
}
