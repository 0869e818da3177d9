//! Pushing to a real `docker-registry` on loopback: first push, repush (HEADs only), a new tag
//! of the same blobs (HEADs + manifest PUT), cross-repository mounts, an interrupted push
//! re-run, and the result read back by skopeo.

mod common;

use std::sync::Mutex;

use biar::progress::BuildEvent;
use biar::registry::{
    push_image, ByteStream, Client, ClientOptions, Descriptor, PushOptions, RegistryError,
};
use bytes::Bytes;
use common::registry::Registry;
use common::testimage::{self, TestImage};
use futures::StreamExt;

fn client(reg: &Registry) -> Client {
    Client::new(
        &reg.host(),
        ClientOptions {
            docker_config: Some(reg.dir.path().join("no-docker-config.json")),
            ..Default::default()
        },
    )
    .unwrap()
}

async fn push(
    c: &Client,
    repo: &str,
    tag: &str,
    img: &TestImage,
    options: &PushOptions,
) -> (
    Result<biar::registry::PushSummary, RegistryError>,
    Vec<BuildEvent>,
) {
    let events = Mutex::new(Vec::new());
    let open = |d: &Descriptor| {
        let r = img.open(d);
        Box::pin(async move { r }) as _
    };
    let result = push_image(c, repo, tag, &img.image, &open, options, &|e| {
        events.lock().unwrap().push(e)
    })
    .await;
    (result, events.into_inner().unwrap())
}

fn skopeo_layers(host: &str, repo: &str, tag: &str) -> Vec<String> {
    let v = common::registry::skopeo_inspect(&format!("{host}/{repo}:{tag}"))
        .unwrap_or_else(|e| panic!("{e}"));
    v["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

fn digests(img: &TestImage) -> Vec<String> {
    img.image.layers.iter().map(|l| l.digest.clone()).collect()
}

#[tokio::test]
async fn push_then_repush_sends_only_what_is_missing() {
    let Some(reg) = Registry::start() else { return };
    let c = client(&reg);
    let img = testimage::make("hello from the registry test");
    let repo = testimage::unique("biar-test/env");

    let (summary, events) = push(&c, &repo, "t1", &img, &PushOptions::default()).await;
    let summary = summary.unwrap();
    assert!(!summary.already_present);
    assert_eq!(
        summary.blobs_sent, 3,
        "two layers and the config: {summary:?}"
    );
    assert_eq!(summary.blobs_reused, 0);
    let layer_bytes: u64 = img.image.layers.iter().map(|l| l.size).sum();
    assert_eq!(
        summary.bytes_sent,
        layer_bytes + img.image.config.len() as u64
    );
    let layer_events: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            BuildEvent::Layer { reused, .. } => Some(*reused),
            _ => None,
        })
        .collect();
    assert_eq!(layer_events, vec![false, false]);
    assert_eq!(skopeo_layers(&reg.host(), &repo, "t1"), digests(&img));

    // Same tag again: the manifest is there and identical, nothing else is asked.
    reg.clear_log();
    let (again, _) = push(&c, &repo, "t1", &img, &PushOptions::default()).await;
    let again = again.unwrap();
    assert!(again.already_present, "{again:?}");
    assert_eq!(again.blobs_sent, 0);
    let reqs = reg.requests();
    assert!(
        reqs.iter()
            .all(|r| r.starts_with("GET /v2/ ") || r.starts_with("HEAD ")),
        "{reqs:?}"
    );

    // A new tag of the same image: blob HEADs and one manifest PUT, no upload at all.
    reg.clear_log();
    let (retag, events) = push(&c, &repo, "t2", &img, &PushOptions::default()).await;
    let retag = retag.unwrap();
    assert_eq!((retag.blobs_sent, retag.blobs_reused), (0, 3), "{retag:?}");
    assert_eq!(retag.bytes_sent, 0);
    assert!(events
        .iter()
        .all(|e| !matches!(e, BuildEvent::Layer { reused: false, .. })));
    let reqs = reg.requests();
    let puts: Vec<_> = reqs.iter().filter(|r| r.starts_with("PUT ")).collect();
    assert_eq!(puts.len(), 1, "{reqs:?}");
    assert!(puts[0].contains("/manifests/t2"), "{reqs:?}");
    assert!(
        !reqs
            .iter()
            .any(|r| r.starts_with("POST ") || r.starts_with("PATCH ")),
        "{reqs:?}"
    );
    // The manifest PUT is the last request.
    assert!(reqs.last().unwrap().starts_with("PUT "), "{reqs:?}");
}

#[tokio::test]
async fn changed_layer_is_the_only_one_sent() {
    let Some(reg) = Registry::start() else { return };
    let c = client(&reg);
    let repo = testimage::unique("biar-test/env");
    let a = testimage::make("first");
    let b = testimage::make("second");
    assert_eq!(a.image.layers[0], b.image.layers[0]);
    push(&c, &repo, "a", &a, &PushOptions::default())
        .await
        .0
        .unwrap();
    let s = push(&c, &repo, "b", &b, &PushOptions::default())
        .await
        .0
        .unwrap();
    // The top layer and the config changed; busybox's layer did not.
    assert_eq!((s.blobs_sent, s.blobs_reused), (2, 1), "{s:?}");
    assert_eq!(
        s.bytes_sent,
        b.image.layers[1].size + b.image.config.len() as u64
    );
    assert_eq!(skopeo_layers(&reg.host(), &repo, "b"), digests(&b));
}

#[tokio::test]
async fn cross_repository_mount_sends_no_bytes() {
    let Some(reg) = Registry::start() else { return };
    let c = client(&reg);
    let img = testimage::make("mounted");
    let first = testimage::unique("biar-test/base-a");
    let second = testimage::unique("biar-test/base-b");
    push(&c, &first, "x", &img, &PushOptions::default())
        .await
        .0
        .unwrap();
    reg.clear_log();
    let options = PushOptions {
        mount_from: vec!["biar-test/does-not-exist".into(), first.clone()],
        ..Default::default()
    };
    let s = push(&c, &second, "x", &img, &options).await.0.unwrap();
    // The missing repository answers with an upload session; the next source has the blob.
    assert_eq!(
        (s.blobs_mounted, s.blobs_sent, s.bytes_sent),
        (3, 0, 0),
        "{s:?}"
    );
    let reqs = reg.requests();
    assert!(
        reqs.iter()
            .any(|r| r.contains("mount=") && r.ends_with(" 201")),
        "{reqs:?}"
    );
    assert!(
        !reqs
            .iter()
            .any(|r| r.starts_with("PUT ") && r.contains("/blobs/")),
        "{reqs:?}"
    );

    // With the right source first, everything is mounted and no byte travels.
    let third = testimage::unique("biar-test/base-c");
    let options = PushOptions {
        mount_from: vec![first.clone()],
        ..Default::default()
    };
    let s = push(&c, &third, "x", &img, &options).await.0.unwrap();
    assert_eq!(
        (s.blobs_mounted, s.blobs_sent, s.bytes_sent),
        (3, 0, 0),
        "{s:?}"
    );
    assert_eq!(skopeo_layers(&reg.host(), &third, "x"), digests(&img));
}

#[tokio::test]
async fn interrupted_push_leaves_no_tag_and_a_rerun_finishes() {
    let Some(reg) = Registry::start() else { return };
    let c = client(&reg);
    let img = testimage::make("interrupted");
    let repo = testimage::unique("biar-test/env");
    let big = img.image.layers[0].digest.clone();

    // The busybox layer's stream breaks after 256 KiB (a dropped connection, a dead builder).
    let events = Mutex::new(Vec::new());
    let open = |d: &Descriptor| {
        let r = img.open(d).map(|s| {
            if d.digest == big {
                break_after(s, 256 * 1024)
            } else {
                s
            }
        });
        Box::pin(async move { r }) as _
    };
    let err = push_image(
        &c,
        &repo,
        "t",
        &img.image,
        &open,
        &PushOptions {
            uploads: 1,
            ..Default::default()
        },
        &|e| events.lock().unwrap().push(e),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, RegistryError::Source { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&big) && text.contains("re-run"),
        "message names the layer and the fix: {text}"
    );
    // Nothing half-tagged.
    assert_eq!(c.manifest_exists(&repo, "t").await.unwrap(), None);
    assert_eq!(c.blob_exists(&repo, &big).await.unwrap(), None);

    let s = push(&c, &repo, "t", &img, &PushOptions::default())
        .await
        .0
        .unwrap();
    assert!(
        s.blobs_sent >= 1 && s.blobs_sent + s.blobs_reused == 3,
        "{s:?}"
    );
    assert_eq!(skopeo_layers(&reg.host(), &repo, "t"), digests(&img));
}

fn break_after(s: ByteStream, limit: usize) -> ByteStream {
    let mut sent = 0usize;
    Box::pin(s.map(move |chunk| {
        let chunk: Bytes = chunk?;
        sent += chunk.len();
        if sent > limit {
            return Err(std::io::Error::other("connection to the builder lost"));
        }
        Ok(chunk)
    }))
}

#[tokio::test]
async fn unreachable_registry_is_explained() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = Client::new(&format!("127.0.0.1:{port}"), ClientOptions::default()).unwrap();
    let err = c.ping().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, RegistryError::Unreachable { .. }), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{port}")) && text.contains("refused"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_repository_name_is_explained_before_any_request() {
    let Some(reg) = Registry::start() else { return };
    let c = client(&reg);
    let img = testimage::make("x");
    let (err, _) = push(&c, "Biar/UPPER", "t", &img, &PushOptions::default()).await;
    let text = err.unwrap_err().to_string();
    assert!(
        text.contains("`Biar`") && text.contains("lower-case"),
        "{text}"
    );
    assert!(reg.requests().iter().all(|r| !r.contains("UPPER")));
}

#[tokio::test]
async fn full_registry_disk_is_explained_and_a_rerun_finishes() {
    // 1 MiB of storage: the ~2 MB busybox layer cannot fit.
    let Some(reg) = Registry::start_with(common::registry::Options {
        storage_bytes: Some(1024 * 1024),
        ..Default::default()
    }) else {
        return;
    };
    let c = client(&reg);
    let img = testimage::make("disk full");
    let repo = testimage::unique("biar-test/full");
    let (result, _) = push(&c, &repo, "t", &img, &PushOptions::default()).await;
    let err = result.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, RegistryError::DiskFull { .. }),
        "{text}\n{}",
        reg.log()
    );
    assert!(
        text.contains("out of storage") && text.contains("re-run"),
        "{text}"
    );
    assert_eq!(c.manifest_exists(&repo, "t").await.unwrap(), None);

    reg.resize_storage(64 * 1024 * 1024);
    let s = push(&c, &repo, "t", &img, &PushOptions::default())
        .await
        .0
        .unwrap();
    assert_eq!(s.blobs_sent + s.blobs_reused, 3, "{s:?}");
    assert_eq!(skopeo_layers(&reg.host(), &repo, "t"), digests(&img));
}

/// `push_to_target` remembers where it pushed each blob, and a push to a sibling repository
/// mounts from there — not from whatever the catalog lists first.
#[tokio::test]
async fn recorded_locations_pick_the_mount_source() {
    let Some(reg) = Registry::start() else { return };
    let cache = tempfile::tempdir().unwrap();
    // Only this test runs in this process (nextest), so the variable is ours.
    std::env::set_var("XDG_CACHE_HOME", cache.path());
    let c = client(&reg);
    let target = biar::registry::RegistryTarget {
        host: reg.host(),
        namespace: "biar-test".into(),
        insecure: false,
    };
    // Decoys the catalog lists first, holding none of our blobs.
    let decoy_dir = tempfile::tempdir().unwrap();
    for i in 0..3 {
        let path = decoy_dir.path().join(format!("d{i}"));
        std::fs::write(&path, format!("decoy {i}")).unwrap();
        let layer = Descriptor::of_bytes(
            biar::registry::OCI_LAYER_TAR,
            &std::fs::read(&path).unwrap(),
        );
        let image = biar::registry::PushImage {
            config: Bytes::from(format!("{{\"decoy\":{i}}}")),
            layers: vec![layer],
        };
        let open = |_: &Descriptor| {
            let f = std::fs::File::open(&path).map(|f| {
                Box::pin(tokio_util::io::ReaderStream::new(
                    tokio::fs::File::from_std(f),
                )) as ByteStream
            });
            Box::pin(async move { f }) as _
        };
        push_image(
            &c,
            &format!("biar-test/aaa-{i}"),
            "t",
            &image,
            &open,
            &PushOptions::default(),
            &|_| {},
        )
        .await
        .unwrap();
    }
    let img = testimage::make("recorded");
    let open = |d: &Descriptor| {
        let r = img.open(d);
        Box::pin(async move { r }) as _
    };
    let src = biar::config::ImageRef {
        name: "zzz-src".into(),
        tag: "t".into(),
    };
    let dst = biar::config::ImageRef {
        name: "zzz-dst".into(),
        tag: "t".into(),
    };
    biar::registry::push_to_target(&target, &src, &img.image, &open, &|_| {})
        .await
        .unwrap();
    reg.clear_log();
    let (_, s) = biar::registry::push_to_target(&target, &dst, &img.image, &open, &|_| {})
        .await
        .unwrap();
    assert_eq!((s.blobs_mounted, s.blobs_sent), (3, 0), "{s:?}");
    let reqs = reg.requests();
    let mounts: Vec<_> = reqs.iter().filter(|r| r.contains("mount=")).collect();
    assert_eq!(mounts.len(), 3, "one attempt per blob: {reqs:#?}");
    assert!(
        mounts
            .iter()
            .all(|r| r.contains("from=biar-test%2Fzzz-src")),
        "{reqs:#?}"
    );
}
