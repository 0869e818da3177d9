//! The backend with an engine of plain data: searches off the loop with the newest query
//! winning, edits in order, build events in batches.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::tui::backend::{Backend, Engine, PackageIndex, Request};
use crate::tui::view::{Delivered, DockerState, DoctorState, ImageState};

#[derive(Default)]
struct Fake {
    searched: Arc<Mutex<Vec<String>>>,
    edits: Arc<Mutex<Vec<String>>>,
    /// The builder is missing until a build is asked to make it.
    no_builder: Arc<Mutex<bool>>,
    /// The index is old: the refresh waits for this to be notified, then brings 10 names more.
    refresh: Option<Arc<tokio::sync::Notify>>,
    loads: Arc<Mutex<usize>>,
}

struct SlowIndex(Arc<Mutex<Vec<String>>>, usize);

impl PackageIndex for SlowIndex {
    fn len(&self) -> usize {
        self.1
    }
    fn search(&mut self, query: &str, _limit: usize) -> Vec<Hit> {
        self.0.lock().unwrap().push(query.to_string());
        std::thread::sleep(Duration::from_millis(50));
        vec![Hit {
            attr: query.to_string(),
            version: None,
            description: None,
            matched: vec![],
        }]
    }
}

impl Engine for Fake {
    fn init(&self, presets: &[String]) -> anyhow::Result<String> {
        self.edits
            .lock()
            .unwrap()
            .push(format!("init {}", presets.join(" ")));
        Ok("created the project".into())
    }
    fn load_project(&self) -> anyhow::Result<ProjectView> {
        Ok(project(&[]))
    }
    fn toggle_preset(&self, name: &str) -> anyhow::Result<String> {
        self.edits.lock().unwrap().push(format!("toggle {name}"));
        Ok(format!("toggled {name}"))
    }
    fn add_package(&self, attr: &str) -> anyhow::Result<String> {
        std::thread::sleep(Duration::from_millis(20));
        self.edits.lock().unwrap().push(format!("add {attr}"));
        Ok(format!("added {attr}"))
    }
    fn remove_package(&self, _file: &str, attr: &str) -> anyhow::Result<String> {
        self.edits.lock().unwrap().push(format!("remove {attr}"));
        anyhow::bail!("user.nix: {attr} is not in the list")
    }
    fn load_index(&self) -> anyhow::Result<Box<dyn PackageIndex>> {
        std::thread::sleep(Duration::from_millis(100));
        let mut loads = self.loads.lock().unwrap();
        *loads += 1;
        // The first load has 3 names; one after a refresh, 13.
        Ok(Box::new(SlowIndex(
            self.searched.clone(),
            3 + 10 * (*loads - 1),
        )))
    }
    fn refresh_index(&self) -> BoxFuture<'static, Option<crate::tui::view::IndexRefresh>> {
        let gate = self.refresh.clone();
        async move {
            gate?.notified().await;
            Some(crate::tui::view::IndexRefresh {
                message: "package index older than a day, refreshed: channel: loaded 13".into(),
                reload: true,
            })
        }
        .boxed()
    }
    fn docker_state(&self) -> BoxFuture<'static, DockerState> {
        async {
            DockerState::Down {
                reason: "no".into(),
            }
        }
        .boxed()
    }
    fn image_state(&self) -> BoxFuture<'static, ImageState> {
        async { ImageState::NotBuilt }.boxed()
    }
    fn doctor(&self) -> BoxFuture<'static, DoctorState> {
        async { DoctorState::Done(doctor_report()) }.boxed()
    }
    fn build(
        &self,
        push: bool,
        create_builder: Option<biar::docker::BuilderSource>,
        events: biar::progress::Sender,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, anyhow::Result<Delivered>> {
        let missing = self.no_builder.clone();
        async move {
            if *missing.lock().unwrap() {
                if create_builder.is_none() {
                    anyhow::bail!("no builder");
                }
                events.send(BuildEvent::Builder {
                    text: "creating volume v".into(),
                });
                *missing.lock().unwrap() = false;
            }
            for i in 0..1000 {
                let line = format!("line {i}");
                events.send(BuildEvent::Log { drv: None, line });
            }
            if !push {
                return Ok(Delivered::Loaded("biar-x:y".to_string()));
            }
            // A push that waits to be cancelled, as the real one stops between blobs.
            cancel.cancelled().await;
            anyhow::bail!("push cancelled: nothing was tagged")
        }
        .boxed()
    }
    fn builder_offer(
        &self,
        error: &anyhow::Error,
        push: bool,
    ) -> Option<crate::tui::view::BuilderOffer> {
        (error.to_string() == "no builder").then(|| crate::tui::view::BuilderOffer {
            push,
            ..builder_offer()
        })
    }
    fn run_attached(&self) -> BoxFuture<'static, anyhow::Result<(i64, Vec<String>)>> {
        async { Ok((0, Vec::new())) }.boxed()
    }
}

async fn until(
    rx: &mut mpsc::UnboundedReceiver<Action>,
    mut f: impl FnMut(&Action) -> bool,
) -> Vec<Action> {
    let mut seen = Vec::new();
    loop {
        let a = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("an answer in time")
            .expect("backend alive");
        let done = f(&a);
        seen.push(a);
        if done {
            return seen;
        }
    }
}

#[tokio::test]
async fn queries_typed_while_the_index_loads_or_searches_collapse_to_the_newest() {
    let fake = Fake::default();
    let searched = fake.searched.clone();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let backend = Backend::spawn(Arc::new(fake), tx);
    for (id, q) in ["h", "he", "hel", "hell", "hello"].iter().enumerate() {
        backend.send(Request::Search {
            id: id as u64 + 1,
            query: q.to_string(),
        });
    }
    let seen = until(&mut rx, |a| {
        matches!(a, Action::SearchResults { id: 5, .. })
    })
    .await;
    assert!(seen
        .iter()
        .any(|a| matches!(a, Action::IndexReady { names: 3 })));
    // Typed before the index was ready: only the newest query ran.
    assert_eq!(*searched.lock().unwrap(), vec!["hello"]);

    // While one search runs, several newer queries arrive: the stale ones are skipped.
    backend.send(Request::Search {
        id: 6,
        query: "a".into(),
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    for (id, q) in [(7, "ab"), (8, "abc"), (9, "abcd")] {
        backend.send(Request::Search {
            id,
            query: q.into(),
        });
    }
    until(&mut rx, |a| {
        matches!(a, Action::SearchResults { id: 9, .. })
    })
    .await;
    assert_eq!(*searched.lock().unwrap(), vec!["hello", "a", "abcd"]);
}

#[tokio::test]
async fn an_old_index_is_refreshed_beside_the_searches_and_replaces_the_loaded_one() {
    let gate = Arc::new(tokio::sync::Notify::new());
    let fake = Fake {
        refresh: Some(gate.clone()),
        ..Fake::default()
    };
    let searched = fake.searched.clone();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let backend = Backend::spawn(Arc::new(fake), tx);
    backend.send(Request::Search {
        id: 1,
        query: "a".into(),
    });
    until(&mut rx, |a| {
        matches!(a, Action::SearchResults { id: 1, .. })
    })
    .await;
    // The refresh is still under way: typing is answered all the same.
    backend.send(Request::Search {
        id: 2,
        query: "ab".into(),
    });
    let seen = until(&mut rx, |a| {
        matches!(a, Action::SearchResults { id: 2, .. })
    })
    .await;
    assert!(!seen.iter().any(|a| matches!(a, Action::Notice(_))));
    // It ends: the fresher index replaces the old one, the query on screen is answered from it,
    // and the status line says so.
    gate.notify_one();
    let seen = until(&mut rx, |a| matches!(a, Action::Notice(_))).await;
    assert!(seen
        .iter()
        .any(|a| matches!(a, Action::IndexReady { names: 13 })));
    assert!(matches!(seen.last(), Some(Action::Notice(n)) if n.contains("refreshed")));
    let seen = until(&mut rx, |a| {
        matches!(a, Action::SearchResults { id: 2, .. })
    })
    .await;
    assert!(!seen.is_empty());
    assert_eq!(*searched.lock().unwrap(), vec!["a", "ab", "ab"]);
}

#[tokio::test]
async fn edits_run_in_order_and_errors_come_back_as_banners() {
    let fake = Fake::default();
    let edits = fake.edits.clone();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let backend = Backend::spawn(Arc::new(fake), tx);
    backend.send(Request::Add("a".into()));
    backend.send(Request::TogglePreset("node".into()));
    backend.send(Request::Remove {
        file: "user.nix".into(),
        attr: "zz".into(),
    });
    let seen = until(&mut rx, |a| matches!(a, Action::Error(_))).await;
    assert_eq!(
        *edits.lock().unwrap(),
        vec!["add a", "toggle node", "remove zz"]
    );
    let messages: Vec<&str> = seen
        .iter()
        .filter_map(|a| match a {
            Action::Edited { message, .. } => Some(message.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(messages, vec!["added a", "toggled node"]);
    assert!(matches!(seen.last(), Some(Action::Error(e)) if e.contains("user.nix: zz")));
}

#[tokio::test]
async fn a_new_project_is_written_in_order_with_the_edits() {
    let fake = Fake::default();
    let edits = fake.edits.clone();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let backend = Backend::spawn(Arc::new(fake), tx);
    backend.send(Request::Init(vec!["python".into()]));
    backend.send(Request::Add("hello".into()));
    let seen = until(&mut rx, |a| matches!(a, Action::Edited { .. })).await;
    assert!(seen
        .iter()
        .any(|a| *a == Action::ProjectCreated("created the project".into())));
    assert_eq!(*edits.lock().unwrap(), vec!["init python", "add hello"]);
}

#[tokio::test]
async fn build_events_arrive_in_batches_before_the_end() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let backend = Backend::spawn(Arc::new(Fake::default()), tx);
    backend.send(Request::Build);
    let seen = until(&mut rx, |a| matches!(a, Action::BuildFinished(_))).await;
    let batches: Vec<usize> = seen
        .iter()
        .filter_map(|a| match a {
            Action::BuildEvents(e) => Some(e.len()),
            _ => None,
        })
        .collect();
    assert_eq!(
        batches.iter().sum::<usize>(),
        1000,
        "every event, before BuildFinished"
    );
    assert!(batches.len() < 100, "batched: {batches:?}");
    assert_eq!(
        seen.last(),
        Some(&Action::BuildFinished(Ok("biar-x:y".into())))
    );
}

#[tokio::test]
async fn a_missing_builder_becomes_an_offer_and_creating_it_builds() {
    let fake = Fake::default();
    *fake.no_builder.lock().unwrap() = true;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let backend = Backend::spawn(Arc::new(fake), tx);
    backend.send(Request::Build);
    let seen = until(&mut rx, |a| {
        matches!(a, Action::BuilderMissing(_) | Action::BuildFinished(_))
    })
    .await;
    assert!(
        matches!(seen.last(), Some(Action::BuilderMissing(o)) if !o.push),
        "{seen:?}"
    );
    backend.send(Request::CreateBuilder {
        push: false,
        source: biar::docker::BuilderSource::Offline,
    });
    let seen = until(&mut rx, |a| matches!(a, Action::BuildFinished(_))).await;
    let events: Vec<&BuildEvent> = seen
        .iter()
        .filter_map(|a| match a {
            Action::BuildEvents(e) => Some(e),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(matches!(events.first(), Some(BuildEvent::Builder { .. })));
    assert_eq!(
        seen.last(),
        Some(&Action::BuildFinished(Ok("biar-x:y".into())))
    );
}

#[tokio::test]
async fn a_push_runs_alone_and_cancelling_ends_it_as_a_push() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let backend = Backend::spawn(Arc::new(Fake::default()), tx);
    backend.send(Request::Push);
    let seen = until(&mut rx, |a| matches!(a, Action::BuildEvents(_))).await;
    assert!(!seen.iter().any(|a| matches!(a, Action::BuildFinished(_))));
    // A build asked for while the push runs does not start a second pipeline.
    backend.send(Request::Build);
    backend.send(Request::CancelBuild);
    let seen = until(&mut rx, |a| {
        matches!(a, Action::PushFinished(_) | Action::BuildFinished(_))
    })
    .await;
    match seen.last() {
        Some(Action::PushFinished(Err(e))) => assert!(e.contains("push cancelled"), "{e}"),
        other => panic!("the push ends as a push: {other:?}"),
    }
    // The next one starts (the cancelled push is over).
    backend.send(Request::Build);
    let seen = until(&mut rx, |a| matches!(a, Action::BuildFinished(_))).await;
    assert_eq!(
        seen.last(),
        Some(&Action::BuildFinished(Ok("biar-x:y".into())))
    );
}

#[tokio::test]
async fn the_doctor_runs_in_the_backend_and_answers_with_its_verdict() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let backend = Backend::spawn(Arc::new(Fake::default()), tx);
    backend.send(Request::Doctor);
    let seen = until(&mut rx, |a| matches!(a, Action::Doctor(_))).await;
    assert_eq!(
        seen.last(),
        Some(&Action::Doctor(DoctorState::Done(doctor_report())))
    );
}
