//! Layer sizes from a listing of the store paths' entries, without reading file contents: a load
//! must write each layer's tar header (its size) before the layer's bytes, and a listing lets it
//! read the store once instead of measuring every new layer first.
//!
//! The listing is [`SCRIPT`], run in the store directory with the paths as `./<hash>-<name>`
//! arguments, by busybox (the offline builder) or GNU findutils and coreutils (the official Nix
//! image, this host): a line `<mode, hex> <size> ./<name>` per entry, where a symlink's size is
//! the length of its target, then `end <count>`, the number of entries counted NUL-separated. A
//! name holding a newline splits its line; the rest holds no `/`, so it does not read as an
//! entry, and the counts would differ anyway: the listing is refused rather than misread. Sizes follow the writer's own rules ([`super::layer::LayerSize`]); a
//! streamed layer is still checked against its prediction.

use std::collections::HashMap;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

use super::layer::LayerSize;
use super::tar::KindLen;

/// Lists `"$@"` (run it in the store directory). `find` does not follow symlinks, so a store path
/// that is a symlink is listed as one; `stat` without `-L` gives a symlink's own size.
pub const SCRIPT: &str = r#"find "$@" -exec stat -c '%f %s %n' {} + && printf 'end %s\n' "$(find "$@" -print0 | tr -dc '\000' | wc -c)""#;

/// The arguments [`SCRIPT`] lists `paths` (`/nix/store/<base>`) with.
pub fn arguments(paths: &[String]) -> Vec<String> {
    paths
        .iter()
        .map(|p| format!("./{}", p.rsplit('/').next().unwrap_or(p)))
        .collect()
}

/// Longest line accepted: a mode, a size and a path (names are at most 255 bytes, paths 4096).
const MAX_LINE: usize = 8192;

/// The tar size of each layer of `layers` (lists of store paths) from the output of [`SCRIPT`]
/// run on all their paths. An error says why the listing cannot be used (the caller measures).
pub async fn layer_sizes<R: AsyncBufRead + Unpin>(
    listing: &mut R,
    layers: &[&[String]],
) -> Result<Vec<u64>, String> {
    let mut layer_of: HashMap<&[u8], usize> = HashMap::new();
    for (i, paths) in layers.iter().enumerate() {
        for p in paths.iter() {
            let base = p.strip_prefix("/nix/store/").unwrap_or(p);
            layer_of.insert(base.as_bytes(), i);
        }
    }
    let mut sizes: Vec<LayerSize> = layers.iter().map(|_| LayerSize::new()).collect();
    let mut roots_seen = 0;
    let mut entries: u64 = 0;
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        let n = (&mut *listing)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| format!("reading the listing: {e}"))?;
        if n == 0 {
            return Err("the listing ended before its `end` line".to_string());
        }
        if line.pop() != Some(b'\n') {
            return Err("a listing line is too long or unterminated".to_string());
        }
        if let Some(count) = line.strip_prefix(b"end ") {
            let count: u64 = std::str::from_utf8(count)
                .ok()
                .and_then(|c| c.trim().parse().ok())
                .ok_or("a malformed `end` line")?;
            if count != entries {
                return Err(format!(
                    "{entries} listing lines for {count} entries (a name with a newline?)"
                ));
            }
            if roots_seen != layer_of.len() {
                return Err("the listing lacks some of the store paths".to_string());
            }
            let mut rest = [0u8; 1];
            let more = listing
                .read(&mut rest)
                .await
                .map_err(|e| format!("reading the listing: {e}"))?;
            if more != 0 {
                return Err("bytes after the listing's `end` line".to_string());
            }
            return Ok(sizes.iter().map(LayerSize::total).collect());
        }
        let (kind, name) = entry(&line).ok_or_else(|| {
            format!(
                "an unexpected listing line `{}`",
                String::from_utf8_lossy(&line)
            )
        })?;
        let base = name.split(|&b| b == b'/').next().unwrap_or(name);
        let layer = *layer_of.get(base).ok_or_else(|| {
            format!(
                "`{}` is not below a listed store path",
                String::from_utf8_lossy(name)
            )
        })?;
        if name.len() == base.len() {
            roots_seen += 1;
        }
        sizes[layer].add(name.len(), kind);
        entries += 1;
    }
}

/// One listing line: its kind and its name below the store directory (without `./`).
fn entry(line: &[u8]) -> Option<(KindLen, &[u8])> {
    let mut fields = line.splitn(3, |&b| b == b' ');
    let mode = u32::from_str_radix(std::str::from_utf8(fields.next()?).ok()?, 16).ok()?;
    let size: u64 = std::str::from_utf8(fields.next()?).ok()?.parse().ok()?;
    let name = fields.next()?.strip_prefix(b"./")?;
    if name.is_empty() || name.ends_with(b"/") {
        return None;
    }
    let kind = match mode & 0o170000 {
        0o040000 => KindLen::Dir,
        0o100000 => KindLen::File { size },
        0o120000 => KindLen::Symlink {
            target_len: usize::try_from(size).ok()?,
        },
        // A NAR has nothing else (`nix-store --dump` refuses it).
        _ => return None,
    };
    Some((kind, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::layer::{measure_store_layer, LocalStore};
    use crate::image::NarSource;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    fn write(path: &Path, bytes: &[u8], mode: u32) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Trees that reach every rule of the format: names and link targets around the 100-byte
    /// limit and past one block, empty and block-sized files, executables, empty directories,
    /// store paths that are a file or a symlink.
    fn varied_store() -> (tempfile::TempDir, Vec<Vec<String>>) {
        let d = tempfile::tempdir().unwrap();
        let s = d.path();
        let a = s.join("aaaa-tree");
        write(&a.join("bin/tool"), b"#!/bin/sh\n", 0o755);
        write(&a.join("empty-file"), b"", 0o444);
        write(&a.join("empty-exe"), b"", 0o555);
        for size in [1usize, 511, 512, 513, 1024, 70_000] {
            write(&a.join(format!("data/f{size}")), &vec![7u8; size], 0o444);
        }
        std::fs::create_dir_all(a.join("share/empty")).unwrap();
        std::fs::create_dir_all(a.join("share/also/empty")).unwrap();
        // Tar names are `nix/store/aaaa-tree/<rel>`: 20 bytes before <rel>.
        for total in [98usize, 99, 100, 101, 102, 200, 511, 512, 513, 600] {
            // Components of at most 200 bytes (file names stop at 255).
            let rel: String = (0..total - 20 - 5)
                .map(|i| if i % 201 == 200 { '/' } else { 'n' })
                .collect();
            write(&a.join("long").join(&rel), b"x", 0o444);
        }
        let deep = (0..6).map(|_| "d".repeat(60)).collect::<Vec<_>>().join("/");
        write(&a.join(&deep).join("leaf"), b"deep", 0o444);
        std::fs::create_dir_all(a.join("e".repeat(99))).unwrap();
        std::fs::create_dir_all(a.join("e".repeat(100))).unwrap();
        std::fs::create_dir_all(a.join("links")).unwrap();
        for len in [1usize, 99, 100, 101, 511, 512, 1000] {
            std::os::unix::fs::symlink("t".repeat(len), a.join(format!("links/l{len}"))).unwrap();
        }
        std::os::unix::fs::symlink("../bin/tool", a.join("links/rel")).unwrap();
        write(&s.join("bbbb-file"), b"just a file", 0o444);
        write(&s.join("cccc-exe"), &[1u8; 513], 0o555);
        std::os::unix::fs::symlink("/nix/store/aaaa-tree/bin/tool", s.join("dddd-link")).unwrap();
        std::os::unix::fs::symlink("x".repeat(300), s.join("eeee-longlink")).unwrap();
        std::fs::create_dir_all(s.join("ffff-emptydir")).unwrap();
        let long_base = format!("gggg-{}", "g".repeat(200));
        write(&s.join(&long_base).join("f"), b"f", 0o444);
        let p = |b: &str| format!("/nix/store/{b}");
        let layers = vec![
            vec![p("aaaa-tree")],
            vec![p("bbbb-file"), p("cccc-exe"), p("dddd-link")],
            vec![p("eeee-longlink")],
            vec![p("ffff-emptydir"), p(&long_base)],
        ];
        (d, layers)
    }

    async fn predicted(source: &LocalStore, layers: &[Vec<String>]) -> Result<Vec<u64>, String> {
        let all: Vec<String> = layers.iter().flatten().cloned().collect();
        let mut listing = source.list(&all).expect("a local store lists");
        let refs: Vec<&[String]> = layers.iter().map(Vec::as_slice).collect();
        layer_sizes(&mut listing, &refs).await
    }

    #[tokio::test]
    async fn predicted_sizes_are_the_written_sizes() {
        let (d, layers) = varied_store();
        let source = LocalStore {
            root: d.path().to_path_buf(),
        };
        let sizes = predicted(&source, &layers).await.unwrap();
        for (paths, size) in layers.iter().zip(sizes) {
            let written = measure_store_layer(paths, &source).await.unwrap();
            assert_eq!(size, written.size, "{paths:?}");
        }
    }

    #[tokio::test]
    async fn a_name_with_a_newline_or_a_missing_path_refuses_the_listing() {
        let (d, layers) = varied_store();
        let source = LocalStore {
            root: d.path().to_path_buf(),
        };
        write(&d.path().join("aaaa-tree/two\nlines"), b"", 0o444);
        let err = predicted(&source, &layers).await.unwrap_err();
        assert!(err.contains("`lines`"), "{err}");
        std::fs::remove_file(d.path().join("aaaa-tree/two\nlines")).unwrap();
        // A continuation never holds a `/`, so it never reads as an entry; the count is a
        // second guard.
        std::fs::create_dir(d.path().join("aaaa-tree/d\n81a4 5 .")).unwrap();
        write(
            &d.path().join("aaaa-tree/d\n81a4 5 ./aaaa-tree"),
            b"",
            0o444,
        );
        assert!(predicted(&source, &layers).await.is_err());
        std::fs::remove_dir_all(d.path().join("aaaa-tree/d\n81a4 5 .")).unwrap();
        assert!(predicted(&source, &layers).await.is_ok());
        let mut gone = layers.clone();
        gone[0].push("/nix/store/zzzz-missing".to_string());
        assert!(predicted(&source, &gone).await.is_err());
    }

    #[tokio::test]
    async fn malformed_listings_are_refused() {
        let paths = vec!["/nix/store/aaaa-x".to_string()];
        let layers: Vec<&[String]> = vec![&paths];
        for text in [
            "41ed 4096 ./aaaa-x\n",                 // no end line
            "41ed 4096 ./aaaa-x\nend 2\n",          // count differs
            "41ed 4096 ./bbbb-y\nend 1\n",          // not a listed path
            "11a4 0 ./aaaa-x\nend 1\n",             // a FIFO
            "41ed 4096 ./aaaa-x/sub\nend 1\n",      // the root itself missing
            "41ed 4096 ./aaaa-x\nend 1\nmore\n",    // trailing bytes
            "41ed 4096 /nix/store/aaaa-x\nend 1\n", // not relative
        ] {
            let mut r = text.as_bytes();
            assert!(layer_sizes(&mut r, &layers).await.is_err(), "{text:?}");
        }
        let mut r = "41ed 4096 ./aaaa-x\n81a4 3 ./aaaa-x/f\nend 2\n".as_bytes();
        // nix/ nix/store/ nix/store/aaaa-x/ nix/store/aaaa-x/f + 1 block + the end.
        assert_eq!(
            layer_sizes(&mut r, &layers).await.unwrap(),
            [512 * 4 + 512 + 1024]
        );
    }
}
