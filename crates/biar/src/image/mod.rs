//! Closure to image: layer plan (popularity), deterministic tar streams, OCI config and manifest, layer cache, load into Docker.

mod error;
pub mod plan;

pub use error::ImageError;
pub use plan::{plan, LayerPlan, PlannedLayer};
