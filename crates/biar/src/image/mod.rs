//! Closure to image: layer plan (popularity), deterministic tar streams, OCI config and manifest, layer cache, load into Docker.

mod error;
pub mod layer;
pub mod nar;
pub mod plan;
pub mod tar;

pub use error::ImageError;
pub use plan::{plan, LayerPlan, PlannedLayer};
