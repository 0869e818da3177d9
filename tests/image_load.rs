//! The image path against the real Docker Engine: a small closure (a static busybox and a `hello`
//! script) from a store folder on this host → layers → `POST /images/load` → a container prints
//! the greeting; a changed leaf reloads only the layers from the change up; a present `name:tag`
//! sends nothing; with a cold layer cache, a load reads each layer once and makes the same image
//! as measuring the layers first.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use biar::config::{ImageRef, ImageSettings};
use biar::image::{
    assemble, describe, load_into_docker, load_layout, ImageInput, LayerCache, LocalStore,
    NarSource, Sizes, Strategy,
};
use biar::nixbuild::{ClosureGraph, StorePathInfo};
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptionsBuilder, LogsOptionsBuilder};
use futures::StreamExt;

const BB: &str = "/nix/store/00000000000000000000000000000bbb-busybox-1.0";

/// A store path whose hash part changes with `content`, as Nix's would.
fn store_path(content: &str, name: &str) -> String {
    let h = format!(
        "{:0>32}",
        content.bytes().map(|b| b as usize).sum::<usize>()
    );
    format!("/nix/store/{}-{name}", &h[h.len() - 32..])
}

fn hello(greeting: &str) -> String {
    store_path(greeting, "hello-1.0")
}

fn env(greeting: &str) -> String {
    store_path(greeting, "biar-env")
}

fn write_store(root: &Path, greeting: &str) -> ClosureGraph {
    let base = |p: &str| root.join(p.trim_start_matches("/nix/store/"));
    let bb = base(BB);
    std::fs::create_dir_all(bb.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", bb.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", bb.join("bin/sh")).unwrap();
    let hp = hello(greeting);
    let h = base(&hp);
    std::fs::create_dir_all(h.join("bin")).unwrap();
    std::fs::write(
        h.join("bin/hello"),
        format!("#!{BB}/bin/sh\necho '{greeting}'\n"),
    )
    .unwrap();
    std::fs::set_permissions(h.join("bin/hello"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let env_path = env(greeting);
    let env = base(&env_path);
    std::fs::create_dir_all(env.join("bin")).unwrap();
    std::os::unix::fs::symlink(format!("{BB}/bin/sh"), env.join("bin/sh")).unwrap();
    std::os::unix::fs::symlink(format!("{hp}/bin/hello"), env.join("bin/hello")).unwrap();
    let info = |p: &str, refs: &[&str]| StorePathInfo {
        path: p.to_string(),
        nar_size: 1,
        nar_hash: String::new(),
        closure_size: None,
        references: refs.iter().map(|s| s.to_string()).collect(),
    };
    let paths = vec![
        info(BB, &[BB]),
        info(&hp, &[&hp, BB]),
        info(&env_path, &[&env_path, &hp, BB]),
    ];
    ClosureGraph::from_export_json(&serde_json::to_string(&paths).unwrap()).unwrap()
}

async fn run_in(docker: &bollard::Docker, image: &str, cmd: &[&str]) -> String {
    let name = format!("biar-image-test-{}-{}", std::process::id(), rand_suffix());
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    };
    let opts = CreateContainerOptionsBuilder::default().name(&name).build();
    docker.create_container(Some(opts), body).await.unwrap();
    docker.start_container(&name, None).await.unwrap();
    let mut wait = docker.wait_container(&name, None);
    while wait.next().await.is_some() {}
    let mut logs = docker.logs(
        &name,
        Some(
            LogsOptionsBuilder::default()
                .stdout(true)
                .stderr(true)
                .build(),
        ),
    );
    let mut out = String::new();
    while let Some(Ok(chunk)) = logs.next().await {
        out.push_str(&chunk.to_string());
    }
    let _ = docker
        .remove_container(
            &name,
            Some(
                bollard::query_parameters::RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .build(),
            ),
        )
        .await;
    out
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
}

struct Cleanup(Vec<String>);
impl Drop for Cleanup {
    fn drop(&mut self) {
        for image in &self.0 {
            let _ = std::process::Command::new("docker")
                .args(["image", "rm", "-f", image])
                .output();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_run_and_reload_only_what_changed() {
    if !common::docker_available() {
        return;
    }
    let engine = biar::docker::connect().await.unwrap();
    let docker = common::docker_client();
    let tmp = tempfile::tempdir().unwrap();
    let cache = LayerCache::at(tmp.path().join("cache"));
    let name = format!("biar-image-test-{}-{}", std::process::id(), rand_suffix());
    let _cleanup = Cleanup(vec![format!("{name}:one"), format!("{name}:two")]);
    let settings = ImageSettings::default();
    let events = |_e: biar::progress::BuildEvent| {};

    let mut described = Vec::new();
    for (tag, greeting) in [("one", "Hello, world!"), ("two", "Hello again!")] {
        let store = tmp.path().join(format!("store-{tag}"));
        let graph = write_store(&store, greeting);
        let source: Box<dyn NarSource> = Box::new(LocalStore { root: store });
        let input = ImageInput {
            reference: ImageRef {
                name: name.clone(),
                tag: tag.to_string(),
            },
            env_path: &env(greeting),
            closure: &graph,
            settings: &settings,
            strategy: Strategy::default(),
            previous: None,
            labels: BTreeMap::from([("biar.test".to_string(), tag.to_string())]),
        };
        let image = assemble(&input, source.as_ref(), &cache, &events)
            .await
            .unwrap();
        assert_eq!(image.layers.len(), 4, "3 store layers + the root layer");
        let summary = load_into_docker(&engine, &image, source.as_ref(), &events)
            .await
            .unwrap();
        assert!(!summary.already_present);
        let out = run_in(&docker, &format!("{name}:{tag}"), &["hello"]).await;
        assert_eq!(out.trim(), greeting);
        let again = load_into_docker(&engine, &image, source.as_ref(), &events)
            .await
            .unwrap();
        assert!(again.already_present, "name:tag exists: nothing sent");
        described.push((image, summary));
    }
    let (one, first) = &described[0];
    let (two, second) = &described[1];
    // busybox is unchanged: the Engine had it, so the second load sent the rest only.
    assert_eq!(first.layers_sent, 4);
    assert_eq!(one.layers[0].digest, two.layers[0].digest);
    assert_ne!(one.layers[1].digest, two.layers[1].digest);
    assert_eq!(second.layers_reused, 1, "{second:?}");
    assert_eq!(second.layers_sent, 3);

    // The image runs as the configured user in the working directory.
    let whoami = run_in(
        &docker,
        &format!("{name}:one"),
        &["sh", "-c", "id -u; pwd; echo $HOME"],
    )
    .await;
    assert_eq!(
        whoami.split_whitespace().collect::<Vec<_>>(),
        ["1000", "/home/user/workdir", "/home/user"]
    );

    // docker history lists every layer.
    let history = std::process::Command::new("docker")
        .args([
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}",
            &format!("{name}:one"),
        ])
        .output()
        .unwrap();
    let history = String::from_utf8(history.stdout).unwrap();
    assert_eq!(history.lines().count(), 4, "{history}");
    assert!(history.contains("busybox-1.0"), "{history}");
}

/// The Engine's image ID of `reference`.
async fn image_id(docker: &bollard::Docker, reference: &str) -> String {
    docker.inspect_image(reference).await.unwrap().id.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_cache_load_reads_each_layer_once_and_matches_two_passes() {
    if !common::docker_available() {
        return;
    }
    let engine = biar::docker::connect().await.unwrap();
    let docker = common::docker_client();
    let tmp = tempfile::tempdir().unwrap();
    let name = format!("biar-image-test-{}-{}", std::process::id(), rand_suffix());
    let _cleanup = Cleanup(vec![
        format!("{name}:one-pass"),
        format!("{name}:two-pass"),
        format!("{name}:shared"),
    ]);
    let settings = ImageSettings::default();
    let events = |_e: biar::progress::BuildEvent| {};
    let greeting = "Hello, one pass!";
    let store = tmp.path().join("store");
    let graph = write_store(&store, greeting);
    let env_path = env(greeting);
    let input = |tag: &str| ImageInput {
        reference: ImageRef {
            name: name.clone(),
            tag: tag.to_string(),
        },
        env_path: &env_path,
        closure: &graph,
        settings: &settings,
        strategy: Strategy::default(),
        previous: None,
        labels: BTreeMap::new(),
    };

    // One pass: sizes from a listing, digests while the layers stream into Docker.
    let cache = LayerCache::at(tmp.path().join("cache-one"));
    let source = common::counting::Counting::new(LocalStore {
        root: store.clone(),
    });
    let layout = describe(&input("one-pass"), &source, &cache, Sizes::List, &events)
        .await
        .unwrap();
    assert!(source.opened().is_empty(), "describing reads no layer");
    let (image, summary) = load_layout(&engine, layout, &source, &cache, &events)
        .await
        .unwrap();
    assert_eq!(source.lists(), 1);
    let mut paths: Vec<String> = graph.paths.iter().map(|p| p.path.clone()).collect();
    paths.sort();
    assert_eq!(source.opened(), paths, "each store path read once");
    // busybox may be in the Engine already (other tests load it): then it is found, not sent.
    assert_eq!(
        summary.layers_sent + summary.layers_reused,
        4,
        "{summary:?}"
    );
    assert!(summary.layers_sent >= 3, "{summary:?}");
    let out = run_in(&docker, &format!("{name}:one-pass"), &["hello"]).await;
    assert_eq!(out.trim(), greeting);
    // The digests learnt on the way are recorded: a second description knows every layer.
    let again = describe(&input("one-pass"), &source, &cache, Sizes::List, &events)
        .await
        .unwrap();
    assert_eq!(again.known_diff_ids(), image.diff_ids());

    // Two passes (measure, then load) from a cold cache: the same image, byte for byte.
    let cache = LayerCache::at(tmp.path().join("cache-two"));
    let local = LocalStore { root: store };
    let measured = assemble(&input("two-pass"), &local, &cache, &events)
        .await
        .unwrap();
    assert_eq!(measured.layers, image.layers);
    assert_eq!(measured.config, image.config);
    load_into_docker(&engine, &measured, &local, &events)
        .await
        .unwrap();
    let one = image_id(&docker, &format!("{name}:one-pass")).await;
    let two = image_id(&docker, &format!("{name}:two-pass")).await;
    assert_eq!(one, two);
    assert_eq!(one, image.config_digest);

    // Another cold cache, and the Engine has these layers: each is measured (read once) to find
    // it there, and none is sent.
    let cache = LayerCache::at(tmp.path().join("cache-three"));
    let source = common::counting::Counting::new(local);
    let layout = describe(&input("shared"), &source, &cache, Sizes::List, &events)
        .await
        .unwrap();
    let (shared, summary) = load_layout(&engine, layout, &source, &cache, &events)
        .await
        .unwrap();
    assert_eq!(source.opened(), paths, "each store path read once");
    assert_eq!((summary.layers_sent, summary.layers_reused), (0, 4));
    assert_eq!(shared.config, image.config);
    assert_eq!(image_id(&docker, &format!("{name}:shared")).await, one);
}
