//! Registry push benchmark: biar's push against `skopeo copy` (the baseline nix2container uses),
//! each on its own fresh loopback `docker-registry`, on an image shaped like the ankisyncd closure
//! (`shared/data/closure-ankisyncd.json`: the 99 largest paths one layer each, the rest one layer;
//! sizes scaled by `BENCH_SCALE`, default 0.25). Scenarios: (a) first push, (b) unchanged repush,
//! (c) one small layer changed, new tag, (d) the same image into a second repository (mount).
//!
//! Run: `scripts/bench-registry.sh` (or `cargo run --example bench_registry`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use biar::registry::{
    push_image, sha256_digest, ByteStream, Client, ClientOptions, Descriptor, PushImage,
    PushOptions, PushSummary, OCI_LAYER_TAR, OCI_MANIFEST,
};
use bytes::Bytes;

struct Registry {
    child: Child,
    host: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("storage").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry installed");
        let host = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&host).is_err() {
            assert!(Instant::now() < deadline, "registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry {
            child,
            host,
            _dir: dir,
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A layer of `size` bytes: a valid tar (so `docker load` takes it) holding one file of
/// incompressible, deterministic bytes (xorshift), written in 1 MiB chunks.
fn write_blob(path: &Path, size: u64, seed: u64) {
    use biar::image::tar;
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    // header + content + padding + two end blocks = size, with content a multiple of 512.
    let content = (size.max(4 * 512) - 3 * 512) / 512 * 512;
    let mut head = Vec::new();
    tar::header(
        &mut head,
        format!("data/{seed}").as_bytes(),
        tar::Kind::File { size: content },
        0o444,
    );
    f.write_all(&head).unwrap();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut left = content;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        for chunk in buf[..n].chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = x.to_le_bytes();
            chunk.copy_from_slice(&b[..chunk.len()]);
        }
        f.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
    let mut end = Vec::new();
    tar::end(&mut end);
    f.write_all(&end).unwrap();
}

fn file_digest(path: &Path) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    let mut f = std::fs::File::open(path).unwrap();
    std::io::copy(&mut f, &mut h).unwrap();
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// An OCI layout (for skopeo) whose blobs biar pushes too.
struct Layout {
    dir: PathBuf,
    image: PushImage,
}

fn blob_path(dir: &Path, digest: &str) -> PathBuf {
    dir.join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

fn make_layout(dir: &Path, sizes: &[u64], seeds: &[u64]) -> Layout {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let mut layers = Vec::new();
    for (i, (&size, &seed)) in sizes.iter().zip(seeds).enumerate() {
        let tmp = dir.join(format!("layer-{i}.tmp"));
        write_blob(&tmp, size, seed);
        let size = std::fs::metadata(&tmp).unwrap().len();
        let digest = file_digest(&tmp);
        let dest = blob_path(dir, &digest);
        if dest.exists() {
            std::fs::remove_file(&tmp).unwrap();
        } else {
            std::fs::rename(&tmp, &dest).unwrap();
        }
        layers.push(Descriptor {
            media_type: OCI_LAYER_TAR.into(),
            digest,
            size,
        });
    }
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.digest.clone()).collect::<Vec<_>>()},
    });
    let image = PushImage {
        config: Bytes::from(serde_json::to_vec(&config).unwrap()),
        layers,
    };
    let cd = image.config_descriptor();
    std::fs::write(blob_path(dir, &cd.digest), &image.config).unwrap();
    let manifest = image.manifest().to_bytes();
    let md = sha256_digest(&manifest);
    std::fs::write(blob_path(dir, &md), &manifest).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": md, "size": manifest.len(),
                       "annotations": {"org.opencontainers.image.ref.name": "bench"}}],
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    // The same blobs as a `docker load` archive (Docker 20.10 reads only this format).
    let docker = serde_json::json!([{
        "Config": format!("blobs/sha256/{}", cd.digest.trim_start_matches("sha256:")),
        "RepoTags": [],
        "Layers": image.layers.iter()
            .map(|l| format!("blobs/sha256/{}", l.digest.trim_start_matches("sha256:")))
            .collect::<Vec<_>>(),
    }]);
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec(&docker).unwrap(),
    )
    .unwrap();
    Layout {
        dir: dir.to_path_buf(),
        image,
    }
}

async fn biar_push(
    host: &str,
    repo: &str,
    tag: &str,
    layout: &Layout,
    mount_from: &[&str],
) -> (f64, PushSummary) {
    let client = Client::new(host, ClientOptions::default()).unwrap();
    let dir = layout.dir.clone();
    let open = move |d: &Descriptor| {
        let path = blob_path(&dir, &d.digest);
        Box::pin(async move {
            let f = tokio::fs::File::open(path).await?;
            Ok(Box::pin(tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024)) as ByteStream)
        }) as _
    };
    let options = PushOptions {
        mount_from: mount_from.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let t = Instant::now();
    let s = push_image(&client, repo, tag, &layout.image, &open, &options, &|_| {})
        .await
        .expect("push");
    (t.elapsed().as_secs_f64(), s)
}

fn skopeo_copy(host: &str, repo: &str, tag: &str, layout: &Layout) -> f64 {
    let t = Instant::now();
    let out = Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:bench", layout.dir.display()))
        .arg(format!("docker://{host}/{repo}:{tag}"))
        .output()
        .expect("skopeo installed");
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.elapsed().as_secs_f64()
}

/// `tar c manifest.json blobs | docker load`, tagged `tag`: the baseline's whole-image load.
fn docker_load(layout: &Layout, tag: &str) -> f64 {
    let t = Instant::now();
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(&layout.dir)
        .args(["-c", "manifest.json", "blobs"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = Command::new("docker")
        .args(["load", "-q"])
        .stdin(tar.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(tar.wait().unwrap().success());
    assert!(
        out.status.success(),
        "docker load: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let elapsed = t.elapsed().as_secs_f64();
    // `Loaded image ID: sha256:…`
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let id = text.trim().rsplit(' ').next().unwrap().to_string();
    docker(&["tag", &id, tag]);
    elapsed
}

fn docker_pull(reference: &str) -> f64 {
    let t = Instant::now();
    docker(&["pull", "-q", reference]);
    t.elapsed().as_secs_f64()
}

fn docker(args: &[&str]) {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn rmi(images: &[&str]) {
    for i in images {
        let _ = Command::new("docker").args(["rmi", "-f", i]).output();
    }
}

#[tokio::main]
async fn main() {
    let scale: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.25);
    let closure = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/closure-ankisyncd.json"),
    )
    .or_else(|_| std::fs::read_to_string("/work/shared/data/closure-ankisyncd.json"))
    .expect("closure-ankisyncd.json");
    let paths: Vec<serde_json::Value> = serde_json::from_str(&closure).unwrap();
    let mut nar: Vec<u64> = paths
        .iter()
        .map(|p| p["narSize"].as_u64().unwrap())
        .collect();
    nar.sort_unstable_by(|a, b| b.cmp(a));
    let mut sizes: Vec<u64> = nar[..99].to_vec();
    sizes.push(nar[99..].iter().sum());
    let sizes: Vec<u64> = sizes
        .iter()
        .map(|&s| ((s as f64 * scale) as u64).max(1024))
        .collect();
    let total: u64 = sizes.iter().sum();
    // The changed layer: the smallest one (a leaf package).
    let small = (0..sizes.len()).min_by_key(|&i| sizes[i]).unwrap();

    let work = tempfile::tempdir().unwrap();
    let seeds: Vec<u64> = (1..=sizes.len() as u64).collect();
    let mut seeds2 = seeds.clone();
    seeds2[small] += 1000;
    let gen = Instant::now();
    let a = make_layout(&work.path().join("a"), &sizes, &seeds);
    let b = make_layout(&work.path().join("b"), &sizes, &seeds2);
    eprintln!(
        "image: {} layers, {:.1} MiB (scale {scale}), generated in {:.1}s; changed layer {} bytes",
        sizes.len(),
        total as f64 / 1048576.0,
        gen.elapsed().as_secs_f64(),
        sizes[small]
    );

    let r1 = Registry::start();
    let (a1, s1) = biar_push(&r1.host, "bench/one", "a", &a, &[]).await;
    let (b1, s2) = biar_push(&r1.host, "bench/one", "a", &a, &[]).await;
    let (c1, s3) = biar_push(&r1.host, "bench/one", "b", &b, &[]).await;
    let (d1, s4) = biar_push(&r1.host, "bench/two", "a", &a, &["bench/one"]).await;

    let r2 = Registry::start();
    let a2 = skopeo_copy(&r2.host, "bench/one", "a", &a);
    let b2 = skopeo_copy(&r2.host, "bench/one", "a", &a);
    let c2 = skopeo_copy(&r2.host, "bench/one", "b", &b);
    let d2 = skopeo_copy(&r2.host, "bench/two", "a", &a);

    // Into Docker: `docker load` of the whole image (the BIAR prototype's way) against a push to
    // the loopback registry plus a pull through the Engine (which skips layers it has).
    let tag_a = format!("bench-registry-{}:a", std::process::id());
    let tag_b = format!("bench-registry-{}:b", std::process::id());
    let pulled_a = format!("{}/bench/one:a", r1.host);
    let pulled_b = format!("{}/bench/one:b", r1.host);
    rmi(&[&tag_a, &tag_b, &pulled_a, &pulled_b]);
    let load_a = docker_load(&a, &tag_a);
    rmi(&[&tag_a]);
    let pull_a = docker_pull(&pulled_a);
    let load_b = docker_load(&b, &tag_b);
    rmi(&[&tag_b]);
    let pull_b = docker_pull(&pulled_b);
    rmi(&[&tag_a, &tag_b, &pulled_a, &pulled_b]);

    println!("| into Docker | docker load (whole image) | push + pull | ratio |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| first time | {load_a:.3} s | {:.3} s ({a1:.3} + {pull_a:.3}) | {:.1}x |",
        a1 + pull_a,
        load_a / (a1 + pull_a)
    );
    println!(
        "| one small layer changed | {load_b:.3} s | {:.3} s ({c1:.3} + {pull_b:.3}) | {:.1}x |",
        c1 + pull_b,
        load_b / (c1 + pull_b)
    );
    println!();
    println!("| scenario | biar | skopeo copy | ratio | biar sent |");
    println!("| --- | --- | --- | --- | --- |");
    for (name, t1, t2, s) in [
        ("(a) first push", a1, a2, &s1),
        ("(b) unchanged repush", b1, b2, &s2),
        ("(c) one small layer changed, new tag", c1, c2, &s3),
        ("(d) same image, second repository", d1, d2, &s4),
    ] {
        println!(
            "| {name} | {t1:.3} s | {t2:.3} s | {:.1}x | {} blobs, {:.1} MiB ({} reused, {} mounted) |",
            t2 / t1,
            s.blobs_sent,
            s.bytes_sent as f64 / 1048576.0,
            s.blobs_reused,
            s.blobs_mounted
        );
    }
}
