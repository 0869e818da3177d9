//! Same closure, two clean Nix stores (two new store volumes), two empty layer caches: the layers,
//! the config and the manifest come out byte-identical. Then the image loads and `hello` from the
//! test package set prints its greeting. A load with a cold cache, sizes listed by the builder's
//! busybox, reads each store path once and makes the same image. The layers made from one GNU tar
//! of the paths (the builder store's way) are those made from `nix-store --dump` per path.

mod common;

use std::collections::BTreeMap;

use biar::config::{Config, ImageRef, Project};
use biar::image::{
    assemble, describe, load_into_docker, load_layout, BuilderStore, DumpStore, ImageInput,
    LayerCache, Sizes,
};
use biar::nixbuild::BuildOptions;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptionsBuilder, LogsOptionsBuilder};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

/// Removes the test's volumes and images, even when it fails.
struct Cleanup {
    volumes: Vec<String>,
    images: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for image in &self.images {
            let _ = std::process::Command::new("docker")
                .args(["image", "rm", "-f", image])
                .output();
        }
        for volume in &self.volumes {
            let _ = std::process::Command::new("docker")
                .args(["volume", "rm", "-f", volume])
                .output();
        }
    }
}

/// The offline example with one store path of this run's own (`salt`): at least one layer is
/// then new to Docker, whatever other tests' images brought.
fn project(dir: &std::path::Path, volume: &str, salt: &str) -> Project {
    common::copy_dir(&common::repo().join("example-offline"), dir);
    let user = std::fs::read_to_string(dir.join("user.nix")).unwrap();
    let end = user.rfind(']').unwrap();
    let user = format!(
        "{}  (sleeper {{ seconds = 0; salt = \"{salt}\"; }})\n{}",
        &user[..end],
        &user[end..]
    );
    std::fs::write(dir.join("user.nix"), user).unwrap();
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    common::pin_test_package_set(dir, &mut json);
    json["builder"]["storeVolume"] = volume.into();
    let config: Config = serde_json::from_value(json).unwrap();
    Project {
        root: dir.to_path_buf(),
        config,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clean_stores_give_identical_layers_and_the_image_runs() {
    if !common::docker_available() {
        return;
    }
    let engine = biar::docker::connect().await.unwrap();
    let docker = common::docker_client();
    let id = common::unique_id();
    let volumes = [
        format!("biar-test-store-{id}-a"),
        format!("biar-test-store-{id}-b"),
    ];
    let reference = ImageRef {
        name: format!("biar-test-determinism-{id}"),
        tag: "t".to_string(),
    };
    let one_pass = ImageRef {
        tag: "one-pass".to_string(),
        ..reference.clone()
    };
    let _cleanup = Cleanup {
        volumes: volumes.to_vec(),
        images: vec![reference.reference(), one_pass.reference()],
    };
    let tmp = tempfile::tempdir().unwrap();
    let events = |_e: biar::progress::BuildEvent| {};
    let mut images = Vec::new();
    for (i, volume) in volumes.iter().enumerate() {
        let project = project(&tmp.path().join(format!("p{i}")), volume, &id);
        biar::docker::builder::create(&engine, &project.config.builder, true, &|_s: &str| {})
            .await
            .expect("a fresh store volume (the builder image comes from scripts/test.sh)");
        // Nobody listens to the progress: a closed channel is fine for the build.
        let (tx, rx) = biar::progress::channel();
        drop(rx);
        let built = biar::nixbuild::run(
            &engine,
            &project,
            &BuildOptions::default(),
            tx,
            CancellationToken::new(),
        )
        .await
        .unwrap();
        let cache = LayerCache::at(tmp.path().join(format!("cache{i}")));
        let source = BuilderStore {
            engine: engine.clone(),
            container: built.container.id().to_string(),
        };
        let input = ImageInput {
            reference: reference.clone(),
            env_path: &built.env_path,
            closure: &built.closure,
            settings: &project.config.image,
            strategy: Default::default(),
            previous: None,
            labels: BTreeMap::new(),
        };
        let image = assemble(&input, &source, &cache, &events).await.unwrap();
        if i == 0 {
            // Byte for byte the layers of the NARs `nix-store --dump` writes.
            let dump = DumpStore {
                engine: engine.clone(),
                container: built.container.id().to_string(),
            };
            let dump_cache = LayerCache::at(tmp.path().join("cache-dump"));
            let dumped = assemble(&input, &dump, &dump_cache, &events).await.unwrap();
            assert_eq!(dumped.layers, image.layers);
            assert_eq!(dumped.config, image.config);
        }
        if i == 1 {
            // Load from the second store; the cache was filled from it, and each layer is
            // verified against its recorded digest while it streams.
            let summary = load_into_docker(&engine, &image, &source, &events)
                .await
                .unwrap();
            // Layers other images already brought (the same busybox…) are not sent again.
            assert_eq!(
                summary.layers_sent + summary.layers_reused,
                image.layers.len()
            );
            assert!(summary.layers_sent >= 1);

            // One pass from a cold cache: the builder lists the new layers, each store path is
            // dumped once, and the image is the same.
            let cold = LayerCache::at(tmp.path().join("cache-one-pass"));
            let counting = common::counting::Counting::new(source.clone());
            let input = ImageInput {
                reference: one_pass.clone(),
                ..input.clone()
            };
            let layout = describe(&input, &counting, &cold, Sizes::List, &events)
                .await
                .unwrap();
            let (listed, _) = load_layout(&engine, layout, &counting, &cold, &events)
                .await
                .unwrap();
            assert_eq!(counting.lists(), 1);
            let mut paths: Vec<String> =
                built.closure.paths.iter().map(|p| p.path.clone()).collect();
            paths.sort();
            assert_eq!(counting.opened(), paths, "each store path dumped once");
            assert_eq!(listed.layers, image.layers);
            assert_eq!(listed.config, image.config);
            let id = |r: String| {
                let docker = docker.clone();
                async move { docker.inspect_image(&r).await.unwrap().id }
            };
            assert_eq!(
                id(one_pass.reference()).await,
                id(reference.reference()).await
            );
        }
        built.container.remove().await;
        images.push(image);
    }
    let (a, b) = (&images[0], &images[1]);
    assert!(a.layers.len() >= 4, "{:?}", a.layers);
    assert_eq!(a.layers, b.layers);
    assert_eq!(a.config, b.config);
    assert_eq!(a.manifest_digest, b.manifest_digest);

    let name = format!("biar-test-run-{id}");
    let body = ContainerCreateBody {
        image: Some(reference.reference()),
        cmd: Some(vec!["hello".to_string()]),
        ..Default::default()
    };
    let opts = CreateContainerOptionsBuilder::default().name(&name).build();
    docker.create_container(Some(opts), body).await.unwrap();
    docker.start_container(&name, None).await.unwrap();
    let mut wait = docker.wait_container(&name, None);
    while wait.next().await.is_some() {}
    let mut logs = docker.logs(
        &name,
        Some(LogsOptionsBuilder::default().stdout(true).build()),
    );
    let mut out = String::new();
    while let Some(Ok(chunk)) = logs.next().await {
        out.push_str(&chunk.to_string());
    }
    let _ = std::process::Command::new("docker")
        .args(["rm", "-f", &name])
        .output();
    assert_eq!(out.trim(), "Hello, world!");
}
