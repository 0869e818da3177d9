//! Store layers as deterministic tar streams, hashed while they stream.
//!
//! A layer's bytes come from a [`NarSource`] (the builder's store through `nix-store --dump` in a
//! container, or a folder on this host), pass through the NAR → tar converter, and go to any
//! `AsyncWrite` (a sink when only the digest is wanted, Docker's load stream, a registry upload)
//! through a [`HashWriter`]. Buffers are bounded: a slow consumer slows the producer down.
//! [`LayerSize`] adds a layer's size up from a listing of its entries with the same rules, so a
//! load can announce a layer's size before reading it.

use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncBufRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};

use super::nar::nar_to_tar;
use super::tar::{self, Kind, KindLen};
use super::tar_nar::TarToNar;
use super::ImageError;
use crate::docker::Engine;

/// A blob's digest (`sha256:<hex>`) and size in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    pub digest: String,
    pub size: u64,
}

/// Passes writes through to `inner`, hashing and counting the bytes it accepted.
pub struct HashWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W> HashWriter<W> {
    pub fn new(inner: W) -> Self {
        HashWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    pub fn finish(self) -> (W, Digest) {
        let digest = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        (
            self.inner,
            Digest {
                digest,
                size: self.count,
            },
        )
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for HashWriter<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            this.hasher.update(&buf[..n]);
            this.count += n as u64;
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A readable stream of concatenated NARs.
pub type NarStream = Pin<Box<dyn AsyncBufRead + Send>>;

/// A readable listing of store paths' entries (see [`super::listing`]).
pub type ListStream = Pin<Box<dyn AsyncBufRead + Send>>;

/// Where store paths' NARs come from.
pub trait NarSource: Send + Sync {
    /// The NARs of `paths`, one after another, in this order. A failure of the source (a path
    /// missing, the container gone) surfaces as a read error, at the latest at the end.
    fn open(&self, paths: &[String]) -> Result<NarStream, ImageError>;

    /// The output of [`super::listing::SCRIPT`] on `paths`, which predicts their layers' sizes
    /// without reading file contents; `None` if this source cannot list (layers are then
    /// measured by reading them).
    fn list(&self, _paths: &[String]) -> Option<ListStream> {
        None
    }
}

/// Read buffer between the source and the converter.
const READ_BUFFER: usize = 256 * 1024;
/// Write buffer between the converter and the consumer (batches the 512-byte headers).
const WRITE_BUFFER: usize = 256 * 1024;

/// The builder's store, read by one GNU tar of all the paths of a call
/// (`tar -c --sort=name --hard-dereference`, exec'd in a running container that has the store
/// volume, a [`crate::docker::BuilderContainer`]), each path's entries made its NAR on the fly
/// (`tar_nar`), so the layers are byte for byte those of [`DumpStore`]. One process streams every
/// path: `nix-store --dump` costs a process start per path, which on the bench closure (339
/// paths) took longer than the bytes. A builder without GNU tar (busybox's has no `--sort`) fails
/// the exec before any output: the paths are then dumped as [`DumpStore`] does.
#[derive(Debug, Clone)]
pub struct BuilderStore {
    pub engine: Engine,
    /// The id or name of a running container with the store at `/nix`.
    pub container: String,
}

impl NarSource for BuilderStore {
    fn open(&self, paths: &[String]) -> Result<NarStream, ImageError> {
        let mut cmd: Vec<&str> = vec![
            "tar",
            "-c",
            // Each directory's names bytewise, depth first: a NAR's order.
            "--sort=name",
            // A hard link's content again, as in a NAR (an optimised store has many).
            "--hard-dereference",
            "--format=gnu",
            "-C",
            "/nix/store",
            "-f",
            "-",
            "--",
        ];
        let bases: Vec<&str> = paths
            .iter()
            .map(|p| p.rsplit('/').next().unwrap_or(p))
            .collect();
        cmd.extend(bases);
        let tar = exec_bytes(&self.engine, &self.container, &cmd);
        let dump = DumpStore {
            engine: self.engine.clone(),
            container: self.container.clone(),
        };
        let paths = paths.to_vec();
        let stream = io_stream(async_stream::try_stream! {
            let mut tar = tar.boxed();
            match tar.next().await {
                Some(Ok(first)) => {
                    let tar = futures::stream::iter([Ok(first)]).chain(tar).boxed();
                    let mut nars = TarToNar::new(tar);
                    for path in &paths {
                        nars.start(path);
                        while let Some(piece) = nars.next().await? {
                            yield piece;
                        }
                    }
                    nars.finish().await?;
                }
                _ => {
                    tracing::debug!("no GNU tar in the builder: dumping each path");
                    let mut nars = dump.nars(&paths).boxed();
                    while let Some(chunk) = nars.next().await {
                        yield chunk?;
                    }
                }
            }
        });
        Ok(Box::pin(tokio_util::io::StreamReader::new(stream)))
    }

    fn list(&self, paths: &[String]) -> Option<ListStream> {
        DumpStore {
            engine: self.engine.clone(),
            container: self.container.clone(),
        }
        .list(paths)
    }
}

/// Names a stream's error type (`try_stream!` leaves it open).
fn io_stream<S>(s: S) -> S
where
    S: futures::Stream<Item = std::io::Result<Bytes>>,
{
    s
}

/// The stdout of `cmd` exec'd in `container`, errors as I/O errors.
fn exec_bytes(
    engine: &Engine,
    container: &str,
    cmd: &[&str],
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    crate::docker::exec_stream_stdout(engine, container, cmd)
        .map(|r| r.map_err(std::io::Error::other))
}

/// The builder's store through `nix-store --dump` exec'd in a running container that has the
/// store volume, its stdout streamed through the Docker API; one exec serves every path of a
/// call. The reference for [`BuilderStore`] (tests compare the two), and its listing.
#[derive(Debug, Clone)]
pub struct DumpStore {
    pub engine: Engine,
    /// The id or name of a running container with the store at `/nix`.
    pub container: String,
}

impl NarSource for DumpStore {
    fn open(&self, paths: &[String]) -> Result<NarStream, ImageError> {
        let reader = tokio_util::io::StreamReader::new(self.nars(paths));
        Ok(Box::pin(tokio::io::BufReader::with_capacity(
            READ_BUFFER,
            reader,
        )))
    }

    fn list(&self, paths: &[String]) -> Option<ListStream> {
        let script = format!("cd /nix/store && {}", super::listing::SCRIPT);
        let args = super::listing::arguments(paths);
        let mut cmd: Vec<&str> = vec!["sh", "-c", &script, "sh"];
        cmd.extend(args.iter().map(String::as_str));
        Some(self.stdout(&cmd))
    }
}

impl DumpStore {
    /// The NARs of `paths`, one `nix-store --dump` each in one exec.
    fn nars(
        &self,
        paths: &[String],
    ) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        let mut cmd: Vec<&str> = vec![
            "sh",
            "-c",
            r#"for p do nix-store --dump "$p" || exit 1; done"#,
            "sh",
        ];
        cmd.extend(paths.iter().map(String::as_str));
        exec_bytes(&self.engine, &self.container, &cmd)
    }

    fn stdout(&self, cmd: &[&str]) -> NarStream {
        let reader =
            tokio_util::io::StreamReader::new(exec_bytes(&self.engine, &self.container, cmd));
        Box::pin(tokio::io::BufReader::with_capacity(READ_BUFFER, reader))
    }
}

/// A store on this host's file system: `root` holds the store paths' basenames (e.g. `/nix/store`,
/// or a test folder). NARs are made by [`super::nar::dump_path`] on a blocking thread.
#[derive(Debug, Clone)]
pub struct LocalStore {
    pub root: PathBuf,
}

impl NarSource for LocalStore {
    fn open(&self, paths: &[String]) -> Result<NarStream, ImageError> {
        let (reader, writer) = tokio::io::duplex(READ_BUFFER);
        let files: Vec<PathBuf> = paths
            .iter()
            .map(|p| self.root.join(p.rsplit('/').next().unwrap_or(p)))
            .collect();
        tokio::task::spawn_blocking(move || {
            let mut out = std::io::BufWriter::with_capacity(
                READ_BUFFER,
                tokio_util::io::SyncIoBridge::new(writer),
            );
            for f in files {
                // A failure drops the writer: the reader sees a truncated NAR, which names the path.
                if super::nar::dump_path(&f, &mut out).is_err() {
                    return;
                }
            }
            let _ = std::io::Write::flush(&mut out);
        });
        Ok(Box::pin(tokio::io::BufReader::with_capacity(
            READ_BUFFER,
            reader,
        )))
    }

    /// The same listing script as in the builder, run by this host's `sh` in `root`.
    fn list(&self, paths: &[String]) -> Option<ListStream> {
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(super::listing::SCRIPT)
            .arg("sh")
            .args(super::listing::arguments(paths))
            .current_dir(&self.root)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .ok()?;
        let stdout = child.stdout.take()?;
        // A failure shows in the output (no `end` line); the task only reaps the child.
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        Some(Box::pin(tokio::io::BufReader::new(stdout)))
    }
}

/// The tar name of the store directory, which every store path's entries are below.
const STORE_DIR: &[u8] = b"nix/store/";
/// The parent directories every store layer starts with.
const PARENTS: [&[u8]; 2] = [b"nix/", STORE_DIR];

/// `nix/store/<basename>` for a store path.
fn tar_root(path: &str) -> Result<Vec<u8>, ImageError> {
    let base = path
        .strip_prefix("/nix/store/")
        .filter(|b| !b.is_empty() && !b.contains('/'))
        .ok_or_else(|| ImageError::Nar {
            path: path.to_string(),
            reason: "not a path directly under /nix/store".to_string(),
        })?;
    Ok([STORE_DIR, base.as_bytes()].concat())
}

/// A store layer's tar size added up from its entries' lengths, with the rules
/// [`write_layer_from`] and the NAR converter write by ([`tar::entry_len`]).
#[derive(Debug, Clone, Copy)]
pub struct LayerSize(u64);

impl LayerSize {
    /// An empty layer: its parent directories and the end of the archive.
    pub fn new() -> LayerSize {
        LayerSize(
            PARENTS
                .iter()
                .map(|d| tar::entry_len(d.len(), KindLen::Dir))
                .sum::<u64>()
                + tar::END_LEN,
        )
    }

    /// One entry, named `name` below the store directory (`<hash>-<name>[/…]`; a directory's
    /// tar name gets a trailing `/`).
    pub fn add(&mut self, name_len: usize, kind: KindLen) {
        let slash = usize::from(kind == KindLen::Dir);
        self.0 += tar::entry_len(STORE_DIR.len() + name_len + slash, kind);
    }

    pub fn total(&self) -> u64 {
        self.0
    }
}

impl Default for LayerSize {
    fn default() -> Self {
        LayerSize::new()
    }
}

/// Writes the tar of a store layer (`paths`, sorted) to `out`, returning its digest and size.
/// Flushes `out` but does not shut it down (it may be part of a larger stream).
pub async fn write_store_layer<W>(
    paths: &[String],
    source: &dyn NarSource,
    out: W,
) -> Result<Digest, ImageError>
where
    W: AsyncWrite + Unpin,
{
    let mut nar = source.open(paths)?;
    let digest = write_layer_from(&mut nar, paths, out).await?;
    expect_end(&mut nar, paths).await?;
    Ok(digest)
}

/// Like [`write_store_layer`], reading the NARs of `paths` from an already open stream (one
/// source call for many layers saves a round trip each).
pub async fn write_layer_from<W>(
    nar: &mut NarStream,
    paths: &[String],
    out: W,
) -> Result<Digest, ImageError>
where
    W: AsyncWrite + Unpin,
{
    let mut w = HashWriter::new(BufWriter::with_capacity(WRITE_BUFFER, out));
    let werr = ImageError::io("writing a layer");
    let mut head = Vec::with_capacity(2 * tar::BLOCK);
    for dir in PARENTS {
        tar::header(&mut head, dir, Kind::Dir, 0o755);
    }
    w.write_all(&head).await.map_err(werr)?;
    for path in paths {
        nar_to_tar(nar, &mut w, &tar_root(path)?, path).await?;
    }
    head.clear();
    tar::end(&mut head);
    w.write_all(&head)
        .await
        .map_err(ImageError::io("writing a layer"))?;
    w.flush().await.map_err(ImageError::io("writing a layer"))?;
    let (_, digest) = w.finish();
    Ok(digest)
}

/// Reads a NAR stream to its end: this surfaces the source's own failure (e.g. `nix-store`
/// exiting non-zero) and refuses trailing bytes.
pub async fn expect_end(nar: &mut NarStream, paths: &[String]) -> Result<(), ImageError> {
    let mut rest = [0u8; 1];
    match nar.read(&mut rest).await {
        Ok(0) => Ok(()),
        Ok(_) => Err(ImageError::Nar {
            path: paths.last().cloned().unwrap_or_default(),
            reason: "trailing bytes after the last NAR".to_string(),
        }),
        Err(e) => Err(ImageError::io(format!(
            "reading the NARs of {}",
            paths.join(" ")
        ))(e)),
    }
}

/// Digest and size of a store layer, reading it once and sending it nowhere.
pub async fn measure_store_layer(
    paths: &[String],
    source: &dyn NarSource,
) -> Result<Digest, ImageError> {
    write_store_layer(paths, source, tokio::io::sink()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("aaa-lib");
        std::fs::create_dir_all(a.join("lib")).unwrap();
        std::fs::write(a.join("lib/libx.so"), vec![7u8; 100_000]).unwrap();
        std::fs::write(d.path().join("bbb-file"), "just a file").unwrap();
        d
    }

    #[tokio::test]
    async fn layers_are_deterministic_and_hash_what_they_write() {
        let d = store();
        let src = LocalStore {
            root: d.path().to_path_buf(),
        };
        let paths = vec![
            "/nix/store/aaa-lib".to_string(),
            "/nix/store/bbb-file".to_string(),
        ];
        let mut bytes = Vec::new();
        let a = write_store_layer(&paths, &src, &mut bytes).await.unwrap();
        let b = measure_store_layer(&paths, &src).await.unwrap();
        assert_eq!(a, b);
        assert_eq!(a.size, bytes.len() as u64);
        assert_eq!(
            a.digest,
            format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
        );
        let file = d.path().join("layer.tar");
        std::fs::write(&file, &bytes).unwrap();
        let out = std::process::Command::new("tar")
            .arg("-tf")
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "nix/\nnix/store/\nnix/store/aaa-lib/\nnix/store/aaa-lib/lib/\nnix/store/aaa-lib/lib/libx.so\nnix/store/bbb-file\n"
        );
    }

    #[tokio::test]
    async fn a_missing_path_is_an_error_naming_it() {
        let d = store();
        let src = LocalStore {
            root: d.path().to_path_buf(),
        };
        let paths = vec!["/nix/store/zzz-missing".to_string()];
        let err = measure_store_layer(&paths, &src).await.unwrap_err();
        assert!(err.to_string().contains("zzz-missing"), "{err}");
    }
}
