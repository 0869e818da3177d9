//! Layer streaming out of a builder container's store, source against source over the same
//! bytes: every layer of the default plan of a closure (a `build --closure-json` file) is made
//! (NAR → tar → sha256, sent nowhere: what a push's first pass does) through one GNU tar of all
//! the paths ([`BuilderStore`]) and through `nix-store --dump` exec'd per path ([`DumpStore`]),
//! each with an empty layer cache; the digests must agree. Run by `scripts/bench-rebuild.sh` in release.
//!
//! Usage: `bench_layers CONTAINER CLOSURE.json [tar|dump]…` (both by default); prints
//! `layers <source> <bytes> <seconds>` per source.

use std::collections::BTreeMap;
use std::time::Instant;

use biar::config::{ImageRef, ImageSettings};
use biar::image::{assemble, BuilderStore, DumpStore, ImageInput, LayerCache, NarSource};
use biar::nixbuild::ClosureGraph;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [container, closure, sources @ ..] = args.as_slice() else {
        eprintln!("usage: bench_layers CONTAINER CLOSURE.json [tar|dump]…");
        std::process::exit(2);
    };
    let sources: Vec<&str> = if sources.is_empty() {
        vec!["tar", "dump"]
    } else {
        sources.iter().map(String::as_str).collect()
    };
    let engine = biar::docker::connect().await.expect("a Docker Engine");
    let json = std::fs::read_to_string(closure).expect("the closure file");
    let graph = ClosureGraph::from_export_json(&json).expect("a closure graph");
    let settings = ImageSettings::default();
    let mut images = Vec::new();
    for name in sources {
        let source: Box<dyn NarSource> = match name {
            "tar" => Box::new(BuilderStore {
                engine: engine.clone(),
                container: container.clone(),
            }),
            "dump" => Box::new(DumpStore {
                engine: engine.clone(),
                container: container.clone(),
            }),
            other => panic!("unknown source {other}"),
        };
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::at(cache_dir.path().to_path_buf());
        let input = ImageInput {
            reference: ImageRef {
                name: "bench-layers".to_string(),
                tag: "x".to_string(),
            },
            env_path: &graph.roots[0],
            closure: &graph,
            settings: &settings,
            strategy: Default::default(),
            labels: BTreeMap::new(),
            previous: None,
        };
        let started = Instant::now();
        let image = assemble(&input, source.as_ref(), &cache, &|_| {})
            .await
            .expect("the layers");
        let seconds = started.elapsed().as_secs_f64();
        let bytes: u64 = image.layers.iter().map(|l| l.size).sum();
        println!("layers {name} {bytes} {seconds:.3}");
        images.push((name, image));
    }
    for pair in images.windows(2) {
        assert_eq!(
            pair[0].1.layers, pair[1].1.layers,
            "{} and {} made different layers",
            pair[0].0, pair[1].0
        );
    }
}
