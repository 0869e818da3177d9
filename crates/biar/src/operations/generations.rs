//! The project's generations for the front ends: the list (newest first) and where an earlier
//! generation's image runs from: the Docker Engine while it holds it, else the registry it was
//! pushed to (pulled back under its local `name:tag`), else it is gone, said plainly (`run
//! --image N` and the TUI's enter on a generation both come here).

use std::path::Path;

use crate::config::{ImageRef, Project};
use crate::inspect::{Delivery, Generation, History, InspectError};
use crate::registry::{pull_into_docker, RegistryError, RegistryRef, RegistryTarget};

use super::{Error, PullEvent};

/// Every kept generation of the project at `root`, newest first (reads a small file: call it
/// off the async runtime's threads).
pub fn generations(root: &Path) -> Vec<Generation> {
    newest_first(&History::of(root))
}

fn newest_first(history: &History) -> Vec<Generation> {
    let mut list = history.list();
    list.reverse();
    list
}

/// Where [`generation_image`] found the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The Docker Engine has it.
    Engine,
    /// Pulled back from `remote` (the Engine no longer had it).
    Pulled { remote: String },
}

/// A generation whose image the Engine now holds, ready to run.
#[derive(Debug, Clone)]
pub struct GenerationImage {
    pub generation: Generation,
    /// The local `name:tag` to run.
    pub image: String,
    pub found: Found,
}

/// The image of generation `query` (a number, `#3`, or a recorded `name:tag`) in the Docker
/// Engine: there already, or pulled back from the registry a push of it went to. A query the
/// history does not hold is bad input; an image neither the Engine nor the registry has any
/// more is [`InspectError::GenerationGone`]. `events` hears the pull, if there is one.
pub async fn generation_image(
    project: &Project,
    query: &str,
    events: &(dyn Fn(PullEvent) + Send + Sync),
) -> Result<GenerationImage, Error> {
    let history = History::of(&project.root);
    let (generation, remotes) = {
        let query = query.to_string();
        tokio::task::spawn_blocking(move || -> Result<_, InspectError> {
            let generation = history.find(&query)?;
            Ok((generation.clone(), remotes_of(&generation, &history.list())))
        })
        .await
        .map_err(|e| crate::run::RunError::Other(format!("reading the history: {e}")))??
    };
    let image = generation.reference.clone();
    let engine = crate::docker::connect().await?;
    if engine.image_exists(&image).await? {
        return Ok(GenerationImage {
            generation,
            image,
            found: Found::Engine,
        });
    }
    let local = local_ref(&image);
    let configured = RegistryTarget::from_config(&project.config);
    for remote in &remotes {
        let Ok(parsed) = RegistryRef::parse(remote) else {
            continue;
        };
        // The project's registry settings (plain HTTP) when the push went there.
        let target = RegistryTarget {
            host: parsed.host.clone(),
            namespace: String::new(),
            insecure: configured
                .as_ref()
                .is_some_and(|t| t.host == parsed.host && t.insecure),
        };
        let client = target.client()?;
        events(PullEvent::Started {
            remote: remote.clone(),
        });
        let pulled = pull_into_docker(&engine, &client, &parsed, &local, &|p| {
            events(PullEvent::Progress(p))
        })
        .await;
        match pulled {
            Ok(()) => {
                return Ok(GenerationImage {
                    generation,
                    image,
                    found: Found::Pulled {
                        remote: remote.clone(),
                    },
                })
            }
            // Deleted from the registry (or garbage-collected): try the next place.
            Err(RegistryError::ManifestUnknown { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    if generation.delivery == Delivery::Run && remotes.is_empty() {
        return Err(InspectError::GenerationWithoutImage {
            number: generation.number,
            reference: image,
        }
        .into());
    }
    Err(InspectError::GenerationGone {
        number: generation.number,
        reference: image,
        remotes,
    }
    .into())
}

/// Where a push of `generation`'s image went: its own remote, then those of other generations
/// of the same image (a later push of a configuration that was first only loaded), newest first.
fn remotes_of(generation: &Generation, all: &[Generation]) -> Vec<String> {
    let mut remotes: Vec<String> = generation.remote.iter().cloned().collect();
    for g in all.iter().rev() {
        if let Some(r) = &g.remote {
            if g.reference == generation.reference && !remotes.contains(r) {
                remotes.push(r.clone());
            }
        }
    }
    remotes
}

/// `name:tag` split at its last colon (names carry no port: the host is not part of them).
fn local_ref(reference: &str) -> ImageRef {
    let (name, tag) = reference.rsplit_once(':').unwrap_or((reference, "latest"));
    ImageRef {
        name: name.to_string(),
        tag: tag.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::Delivery;

    fn generation(number: u64, reference: &str, remote: Option<&str>) -> Generation {
        Generation {
            number,
            time: 0,
            delivery: if remote.is_some() {
                Delivery::Push
            } else {
                Delivery::Load
            },
            reference: reference.into(),
            remote: remote.map(str::to_string),
            env_path: None,
            packages: Vec::new(),
            closure_size: None,
            paths: Vec::new(),
        }
    }

    #[test]
    fn a_loaded_generation_finds_a_later_push_of_the_same_image() {
        let all = [
            generation(1, "e:1", None),
            generation(2, "e:1", Some("127.0.0.1:5000/a/e:1")),
            generation(3, "e:2", Some("127.0.0.1:5000/a/e:2")),
            generation(4, "e:1", Some("127.0.0.1:6000/e:1")),
        ];
        assert_eq!(
            remotes_of(&all[0], &all),
            ["127.0.0.1:6000/e:1", "127.0.0.1:5000/a/e:1"]
        );
        assert_eq!(remotes_of(&all[2], &all), ["127.0.0.1:5000/a/e:2"]);
        assert_eq!(
            remotes_of(&all[1], &all),
            ["127.0.0.1:5000/a/e:1", "127.0.0.1:6000/e:1"]
        );
    }

    #[test]
    fn a_gone_generation_says_which_and_where_it_was_looked_for() {
        let e = crate::Error::from(InspectError::GenerationGone {
            number: 3,
            reference: "biar-ab:cd".into(),
            remotes: vec!["127.0.0.1:5000/t/biar-ab:cd".into()],
        });
        let text = e.to_string();
        assert!(
            text.starts_with("generation #3 (biar-ab:cd) is gone"),
            "{text}"
        );
        assert!(text.contains("127.0.0.1:5000/t/biar-ab:cd"), "{text}");
        // Not the user's typing: the generation exists, its image does not.
        assert_eq!(e.category(), crate::category::Category::Failure);
        let never = InspectError::GenerationGone {
            number: 1,
            reference: "biar-ab:cd".into(),
            remotes: Vec::new(),
        };
        assert!(never.to_string().contains("never pushed"));
        // A generation `run` made without an image says so, and how to make one.
        let run = crate::Error::from(InspectError::GenerationWithoutImage {
            number: 2,
            reference: "biar-ab:cd".into(),
        });
        let text = run.to_string();
        assert!(text.contains("#2 ran from the store volume"), "{text}");
        assert!(text.contains("biar-tui build"), "{text}");
        assert_eq!(run.category(), crate::category::Category::Failure);
    }

    #[test]
    fn local_references_split_at_the_tag() {
        assert_eq!(local_ref("biar-ab:cd").reference(), "biar-ab:cd");
        assert_eq!(local_ref("biar-ab").tag, "latest");
    }

    #[test]
    fn the_list_is_newest_first_and_kept_outside_the_project() {
        let state = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        let history = History::at(state.path(), project.path());
        for r in ["e:1", "e:2"] {
            history.record(generation(0, r, None)).unwrap();
        }
        let list = newest_first(&history);
        assert_eq!(list[0].number, 2);
        assert_eq!(list[1].number, 1);
        assert!(std::fs::read_dir(project.path()).unwrap().next().is_none());
    }
}
