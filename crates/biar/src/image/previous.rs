//! The previous image of a name, whose recorded layers ([`LayerRecord`]) the next plan follows:
//! the newest one, i.e. the highest generation (ties: the most recently tagged in the Engine, then
//! the tag). Found here in the Engine; `registry::previous_in_registry` looks in a registry.

use super::follow::LayerRecord;
use super::ImageError;
use crate::config::ImageRef;
use crate::docker::Engine;

/// The label with the image's name (the base configuration's hash), on every image biar-tui makes.
pub const LABEL_NAME: &str = "biar.name";

/// An earlier image of the same name and its recorded layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousImage {
    /// Where it was found (`name:tag` in the Engine, or the registry reference), for messages.
    pub found: String,
    pub record: LayerRecord,
}

/// The newest of `candidates` (generation, then `rank`, then `found`): the last after sorting.
pub fn newest<R: Ord>(candidates: Vec<(PreviousImage, R)>) -> Option<PreviousImage> {
    candidates
        .into_iter()
        .max_by(|(a, ra), (b, rb)| {
            a.record
                .generation
                .cmp(&b.record.generation)
                .then_with(|| ra.cmp(rb))
                .then_with(|| b.found.cmp(&a.found))
        })
        .map(|(p, _)| p)
}

/// The newest image named `image.name` in the Engine other than `image` itself, if one records
/// its layers.
pub async fn previous_in_engine(
    engine: &Engine,
    image: &ImageRef,
) -> Result<Option<PreviousImage>, ImageError> {
    let images = engine
        .images_matching(&format!("{LABEL_NAME}={}", image.name))
        .await
        .map_err(ImageError::docker("listing images"))?;
    let own = image.reference();
    let prefix = format!("{}:", image.name);
    let candidates = images
        .into_iter()
        .filter(|i| !i.tags.contains(&own))
        .filter_map(|i| {
            let record = LayerRecord::from_labels(&i.labels)?;
            let mut tags: Vec<&String> = i.tags.iter().filter(|t| t.starts_with(&prefix)).collect();
            tags.sort();
            let found = tags.first().map_or(i.id.clone(), |t| t.to_string());
            Some((PreviousImage { found, record }, i.last_tag_time))
        })
        .collect();
    Ok(newest(candidates))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::follow::RecordedLayer;

    fn candidate(found: &str, generation: u64, rank: u32) -> (PreviousImage, u32) {
        let record = LayerRecord {
            generation,
            layers: vec![RecordedLayer {
                key: "00".into(),
                names: vec![found.into()],
            }],
        };
        let found = found.to_string();
        (PreviousImage { found, record }, rank)
    }

    #[test]
    fn the_newest_is_the_highest_generation_then_rank_then_name() {
        let pick = |c: Vec<(PreviousImage, u32)>| newest(c).map(|p| p.found);
        assert_eq!(pick(vec![]), None);
        let c = vec![
            candidate("b", 2, 0),
            candidate("a", 3, 0),
            candidate("c", 1, 9),
        ];
        assert_eq!(pick(c).as_deref(), Some("a"));
        let c = vec![candidate("b", 2, 1), candidate("a", 2, 5)];
        assert_eq!(pick(c).as_deref(), Some("a"));
        // Same generation and rank: the first tag by name, whatever the order found.
        let c = vec![candidate("b", 2, 1), candidate("a", 2, 1)];
        assert_eq!(pick(c).as_deref(), Some("a"));
        let c = vec![candidate("a", 2, 1), candidate("b", 2, 1)];
        assert_eq!(pick(c).as_deref(), Some("a"));
    }
}
