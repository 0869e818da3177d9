//! Test helpers: a small store and closure, and a source that counts what it is asked for.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use super::layer::{ListStream, NarSource, NarStream};
use super::{
    describe, ImageError, ImageInput, ImageLayout, LayerCache, LocalStore, Sizes, Strategy,
};
use crate::config::{ImageRef, ImageSettings};
use crate::nixbuild::{ClosureGraph, StorePathInfo};
use crate::progress::BuildEvent;

/// Three store paths (`aaa-lib` ← `bbb-app` ← `ccc-biar-env`) in `<dir>/store`.
pub fn fixture() -> (tempfile::TempDir, ClosureGraph) {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    for (name, body) in [
        ("aaa-lib", "lib"),
        ("bbb-app", "app"),
        ("ccc-biar-env", "env"),
    ] {
        std::fs::create_dir_all(store.join(name).join("bin")).unwrap();
        std::fs::write(store.join(name).join("bin/x"), body).unwrap();
    }
    let info = |p: &str, refs: &[&str]| StorePathInfo {
        path: format!("/nix/store/{p}"),
        nar_size: 100,
        nar_hash: String::new(),
        closure_size: None,
        references: refs.iter().map(|r| format!("/nix/store/{r}")).collect(),
    };
    let graph = ClosureGraph::from_export_json(
        &serde_json::to_string(&[
            info("aaa-lib", &[]),
            info("bbb-app", &["aaa-lib"]),
            info("ccc-biar-env", &["bbb-app"]),
        ])
        .unwrap(),
    )
    .unwrap();
    (d, graph)
}

pub fn input<'a>(graph: &'a ClosureGraph, settings: &'a ImageSettings) -> ImageInput<'a> {
    ImageInput {
        reference: ImageRef {
            name: "biar-x".into(),
            tag: "y".into(),
        },
        env_path: "/nix/store/ccc-biar-env",
        closure: graph,
        settings,
        strategy: Strategy::default(),
        previous: None,
        labels: BTreeMap::new(),
    }
}

/// A [`LocalStore`] that records the paths whose NARs it opened and counts its listings.
pub struct Counting {
    inner: LocalStore,
    can_list: bool,
    opened: Mutex<Vec<String>>,
    lists: Mutex<usize>,
}

impl Counting {
    pub fn new(inner: LocalStore) -> Counting {
        Counting {
            inner,
            can_list: true,
            opened: Mutex::default(),
            lists: Mutex::default(),
        }
    }

    pub fn unlistable(inner: LocalStore) -> Counting {
        Counting {
            can_list: false,
            ..Counting::new(inner)
        }
    }

    /// Every path opened, once per time.
    pub fn opened(&self) -> Vec<String> {
        self.opened.lock().unwrap().clone()
    }

    pub fn lists(&self) -> usize {
        *self.lists.lock().unwrap()
    }
}

impl NarSource for Counting {
    fn open(&self, paths: &[String]) -> Result<NarStream, ImageError> {
        self.opened.lock().unwrap().extend_from_slice(paths);
        self.inner.open(paths)
    }

    fn list(&self, paths: &[String]) -> Option<ListStream> {
        *self.lists.lock().unwrap() += 1;
        self.can_list.then(|| self.inner.list(paths)).flatten()
    }
}

/// A layout of the fixture with a cold cache (in `cache`): every store layer predicted.
pub async fn listed(graph: &ClosureGraph, source: &dyn NarSource, cache: &Path) -> ImageLayout {
    let settings = ImageSettings::default();
    let events = |_e: BuildEvent| {};
    let cache = LayerCache::at(cache);
    describe(
        &input(graph, &settings),
        source,
        &cache,
        Sizes::List,
        &events,
    )
    .await
    .unwrap()
}
