//! A tiny valid image made in the test (a busybox-static layer and a small file layer), as plain
//! files, to push until the image module's real descriptors are used.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use biar::registry::{ByteStream, Descriptor, PushImage, OCI_LAYER_TAR};
use bytes::Bytes;

/// A unique lower-case name for repositories, images and containers made by this test process.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub struct TestImage {
    pub dir: tempfile::TempDir,
    pub image: PushImage,
    pub files: HashMap<String, PathBuf>,
    /// The rootfs the layers were made of (busybox + /hello.txt).
    pub rootfs: PathBuf,
}

fn tar(dir: &Path, out: &Path) {
    let status = Command::new("tar")
        .args([
            "--sort=name",
            "--mtime=@0",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "-cf",
        ])
        .arg(out)
        .arg("-C")
        .arg(dir)
        .arg(".")
        .status()
        .expect("tar");
    assert!(status.success());
}

fn descriptor(path: &Path) -> Descriptor {
    let bytes = std::fs::read(path).unwrap();
    Descriptor::of_bytes(OCI_LAYER_TAR, &bytes)
}

/// Two layers: `/bin/busybox` with `/bin/sh` and `/bin/cat` symlinks, then `/hello.txt` holding
/// `greeting`. Different greetings give a different second layer and config, the same first.
pub fn make(greeting: &str) -> TestImage {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    std::fs::create_dir_all(base.join("bin")).unwrap();
    std::fs::create_dir_all(base.join("tmp")).unwrap();
    std::fs::copy("/bin/busybox", base.join("bin/busybox")).expect("busybox-static installed");
    for applet in ["sh", "cat", "echo", "stty", "sleep", "env", "ls"] {
        std::os::unix::fs::symlink("busybox", base.join("bin").join(applet)).unwrap();
    }
    let top = dir.path().join("top");
    std::fs::create_dir_all(&top).unwrap();
    std::fs::write(top.join("hello.txt"), format!("{greeting}\n")).unwrap();

    let l1 = dir.path().join("layer1.tar");
    let l2 = dir.path().join("layer2.tar");
    tar(&base, &l1);
    tar(&top, &l2);
    let d1 = descriptor(&l1);
    let d2 = descriptor(&l2);
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": { "Cmd": ["/bin/sh"], "Env": ["PATH=/bin"] },
        "rootfs": { "type": "layers", "diff_ids": [d1.digest, d2.digest] },
    });
    let image = PushImage {
        config: Bytes::from(serde_json::to_vec(&config).unwrap()),
        layers: vec![d1.clone(), d2.clone()],
    };
    let files = HashMap::from([(d1.digest.clone(), l1), (d2.digest.clone(), l2)]);
    // One rootfs for `docker import`: both layers merged.
    let rootfs = dir.path().join("rootfs");
    super::copy_dir(&base, &rootfs);
    std::fs::write(rootfs.join("hello.txt"), format!("{greeting}\n")).unwrap();
    TestImage {
        dir,
        image,
        files,
        rootfs,
    }
}

impl TestImage {
    /// Streams a layer file in 64 KiB chunks.
    pub fn open(&self, d: &Descriptor) -> std::io::Result<ByteStream> {
        let path =
            self.files.get(&d.digest).cloned().ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, d.digest.clone())
            })?;
        let file = std::fs::File::open(path)?;
        let stream =
            tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file), 65536);
        Ok(Box::pin(stream))
    }
}

/// An image imported into Docker from a rootfs folder; removed on drop.
pub struct Imported {
    pub reference: String,
}

impl Drop for Imported {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rmi", "-f", &self.reference])
            .output();
    }
}

/// `docker import` of `rootfs` as a unique `biar-test-run-…:t`, with `/bin/sh` as its command.
pub fn import(rootfs: &Path) -> Imported {
    let reference = format!("{}:t", unique("biar-test-run"));
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(rootfs)
        .args(["-c", "."])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("tar");
    let out = Command::new("docker")
        .args([
            "import",
            "-c",
            "CMD [\"/bin/sh\"]",
            "-c",
            "ENV PATH=/bin",
            "-",
            &reference,
        ])
        .stdin(tar.stdout.take().unwrap())
        .output()
        .expect("docker import");
    assert!(tar.wait().unwrap().success());
    assert!(
        out.status.success(),
        "docker import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Imported { reference }
}

/// The containers (any state) made from `image`, to check nothing is left behind.
pub fn containers_of(image: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("ancestor={image}"),
            "--format",
            "{{.Names}}",
        ])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Removes these images from Docker on drop, even when the test fails.
pub struct RemoveImages(pub Vec<String>);
impl Drop for RemoveImages {
    fn drop(&mut self) {
        for i in &self.0 {
            let _ = Command::new("docker").args(["rmi", "-f", i]).output();
        }
    }
}

/// Pushes a fresh test image saying `greeting` (see [`make`]) to `repository:t` through `client`.
pub async fn push(client: &biar::registry::Client, repository: &str, greeting: &str) {
    let img = make(greeting);
    let open = |d: &Descriptor| {
        let r = img.open(d);
        Box::pin(async move { r }) as _
    };
    biar::registry::push_image(
        client,
        repository,
        "t",
        &img.image,
        &open,
        &biar::registry::PushOptions::default(),
        &|_| {},
    )
    .await
    .unwrap();
}

/// What a test image in Docker says: `cat /hello.txt` in a throw-away container of `image`;
/// (stdout, stderr).
pub fn hello(image: &str) -> (String, String) {
    let out = Command::new("docker")
        .args(["run", "--rm", image, "cat", "/hello.txt"])
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}
