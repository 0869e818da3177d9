//! Which of the project's files a build uploads: the configuration files (baseConfig, the
//! userConfig entries, `workdir/local.nix`) and what they refer to by relative path (`./x.nix`,
//! `../lib`, `./presets/${name}.nix`), found in their parsed Nix syntax, transitively. Nothing
//! else travels: a data file beside config.json or the user's work in `workdir/` stays on the
//! host. A reference leading outside the project is refused.

use std::collections::{BTreeSet, VecDeque};
use std::path::{Component, Path, PathBuf};

use rnix::SyntaxKind;

use crate::config::Project;
use crate::location::Location;

/// Project-relative files and folders to upload.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UploadSet {
    /// Files, each uploaded as it is.
    pub files: BTreeSet<PathBuf>,
    /// Folders a file refers to, uploaded whole but for hidden entries and `workdir/`.
    pub dirs: BTreeSet<PathBuf>,
}

impl UploadSet {
    /// Whether the project entry `rel` (a directory if `is_dir`) goes in the upload.
    pub fn includes(&self, rel: &Path, is_dir: bool) -> bool {
        if self.files.contains(rel) {
            return true;
        }
        let hidden = rel
            .components()
            .any(|c| matches!(c, Component::Normal(n) if n.to_string_lossy().starts_with('.')));
        let in_workdir = rel.starts_with("workdir");
        if self
            .dirs
            .iter()
            .any(|d| rel.starts_with(d) && !hidden && (!in_workdir || d.starts_with("workdir")))
        {
            return true;
        }
        // A folder on the way to something included.
        is_dir
            && self
                .files
                .iter()
                .chain(self.dirs.iter())
                .any(|p| p.starts_with(rel) && p != rel)
    }
}

/// The upload set of `project`: `roots` (project-relative configuration files) and everything
/// they refer to. An error is a sentence naming the file (and line and column) at fault.
pub fn upload_set(project: &Project, roots: &[PathBuf]) -> Result<UploadSet, String> {
    let root = project
        .root
        .canonicalize()
        .map_err(|e| format!("{}: {e}", project.root.display()))?;
    let mut set = UploadSet::default();
    let mut queue: VecDeque<(PathBuf, Option<Location>)> =
        roots.iter().map(|r| (r.clone(), None)).collect();
    let mut parsed = BTreeSet::new();
    while let Some((rel, from)) = queue.pop_front() {
        let host = project.root.join(&rel);
        let Ok(meta) = std::fs::metadata(&host) else {
            // Missing: Nix says so if the evaluation really reads it.
            continue;
        };
        let real = host
            .canonicalize()
            .map_err(|e| format!("{}: {e}", host.display()))?;
        if !real.starts_with(&root) {
            let at = from.map(|l| format!("{l}: ")).unwrap_or_default();
            return Err(format!(
                "{at}{} is a link to {}, outside the project: only the project's own files are \
                 uploaded to the builder",
                host.display(),
                real.display()
            ));
        }
        // A link inside the project travels as a link: its target must travel too.
        if let Ok(target_rel) = real.strip_prefix(&root) {
            if target_rel != rel && !target_rel.as_os_str().is_empty() {
                queue.push_back((target_rel.to_path_buf(), None));
            }
        }
        if meta.is_dir() {
            if set.dirs.insert(rel.clone()) {
                queue.push_back((rel.join("default.nix"), None));
            }
            continue;
        }
        set.files.insert(rel.clone());
        let is_nix = rel.extension().is_some_and(|e| e == "nix");
        if !is_nix || !parsed.insert(rel.clone()) {
            continue;
        }
        // Through the one project-file reader: a FIFO never blocks, a huge file is refused.
        let text =
            crate::fsutil::read_text(&host, crate::fsutil::MAX_NIX_FILE_BYTES).map_err(|e| {
                let at = from.map(|l| format!("{l}: ")).unwrap_or_default();
                format!("{at}{e}")
            })?;
        let tree = crate::nixexpr::parse(&host, &text).map_err(|e| e.to_string())?;
        let base = rel.parent().unwrap_or(Path::new("")).to_path_buf();
        for (offset, written) in relative_paths(&tree) {
            let at = Location::from_offset(&host, &text, offset);
            let target = normalise(&base.join(&written)).ok_or_else(|| {
                format!(
                    "{at}: {written} leads outside the project: a configuration may refer only \
                     to files inside its project (they are what is uploaded to the builder)"
                )
            })?;
            queue.push_back((target, Some(at)));
        }
    }
    Ok(set)
}

/// Every relative path literal of the file with its byte offset: `./a.nix` as written, and for
/// one with interpolations (`./presets/${x}.nix`) the folder its fixed part names.
fn relative_paths(tree: &rnix::SyntaxNode) -> Vec<(usize, String)> {
    tree.descendants()
        .filter(|n| n.kind() == SyntaxKind::NODE_PATH_REL)
        .map(|n| {
            let offset = usize::from(n.text_range().start());
            let mut fixed = String::new();
            let mut interpolated = false;
            for child in n.children_with_tokens() {
                match child {
                    rnix::NodeOrToken::Token(t) if !interpolated => fixed.push_str(t.text()),
                    _ => interpolated = true,
                }
            }
            if interpolated {
                fixed.truncate(fixed.rfind('/').map_or(0, |i| i + 1));
                if fixed.is_empty() {
                    fixed.push_str("./");
                }
            }
            (offset, fixed)
        })
        .collect()
}

/// `path` with `.` and `..` resolved lexically, or `None` when it climbs above the project.
fn normalise(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[(&str, &str)]) -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let project = Project {
            root: dir.path().to_path_buf(),
            config: serde_json::from_str(r#"{"baseConfig": "base.nix", "userConfig": []}"#)
                .unwrap(),
        };
        (dir, project)
    }

    #[test]
    fn imports_are_followed_and_nothing_else_travels() {
        let (_d, p) = project(&[
            (
                "base.nix",
                "{ pkgs }: [ pkgs.hello ] ++ import ./lib/extra.nix { inherit pkgs; }",
            ),
            ("lib/extra.nix", "{ pkgs }: import ../shared/more.nix pkgs"),
            ("shared/more.nix", "pkgs: [ ]"),
            ("shared/unused.nix", "[ ]"),
            (
                "user.nix",
                "{ pkgs }: [ (pkgs.callPackage ./pkgs/tool { }) ]",
            ),
            ("pkgs/tool/default.nix", "{ }: import ./helper.nix"),
            ("pkgs/tool/data.txt", "x"),
            ("big.bin", "data"),
            ("workdir/notes.txt", "mine"),
        ]);
        let set = upload_set(&p, &["base.nix".into(), "user.nix".into()]).unwrap();
        let files: Vec<_> = set.files.iter().map(|f| f.display().to_string()).collect();
        assert_eq!(
            files,
            [
                "base.nix",
                "lib/extra.nix",
                "pkgs/tool/default.nix",
                "shared/more.nix",
                "user.nix"
            ]
        );
        assert_eq!(
            set.dirs.iter().collect::<Vec<_>>(),
            [&PathBuf::from("pkgs/tool")]
        );
        assert!(set.includes(Path::new("pkgs/tool/data.txt"), false));
        assert!(set.includes(Path::new("shared"), true));
        assert!(!set.includes(Path::new("shared/unused.nix"), false));
        assert!(!set.includes(Path::new("big.bin"), false));
        assert!(!set.includes(Path::new("workdir"), true));
    }

    #[test]
    fn the_project_folder_itself_never_brings_the_workdir_or_hidden_files() {
        let (_d, p) = project(&[("base.nix", "{ pkgs }: [ (pkgs.callPackage ./. { }) ]")]);
        let set = upload_set(&p, &["base.nix".into()]).unwrap();
        assert!(set.includes(Path::new("src/main.c"), false));
        assert!(!set.includes(Path::new("workdir/big.bin"), false));
        assert!(!set.includes(Path::new(".git"), true));
    }

    #[test]
    fn interpolated_paths_bring_their_folder() {
        let (_d, p) = project(&[
            (
                "base.nix",
                "{ pkgs, name ? \"a\" }: import ./presets/${name}.nix",
            ),
            ("presets/a.nix", "[ ]"),
        ]);
        let set = upload_set(&p, &["base.nix".into()]).unwrap();
        assert!(set.dirs.contains(Path::new("presets")), "{set:?}");
    }

    #[test]
    fn a_referenced_fifo_or_huge_nix_file_is_refused_not_read() {
        let (d, p) = project(&[("base.nix", "{ pkgs }: import ./pipe.nix")]);
        let fifo = std::ffi::CString::new(
            d.path()
                .join("pipe.nix")
                .into_os_string()
                .into_encoded_bytes(),
        )
        .unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        // Before the one reader was used this blocked for ever on the FIFO.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(upload_set(&p, &["base.nix".into()]));
        });
        let e = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("upload_set hung on a FIFO")
            .unwrap_err();
        assert!(e.contains("FIFO") && e.contains("base.nix:1:18"), "{e}");

        let big = format!("{{ pkgs }}: [ ]\n#{}", "x".repeat(5 << 20));
        let (_d, p) = project(&[
            ("base.nix", "{ pkgs }: import ./big.nix"),
            ("big.nix", &big),
        ]);
        let e = upload_set(&p, &["base.nix".into()]).unwrap_err();
        assert!(e.contains("MiB limit"), "{e}");
    }

    #[test]
    fn references_leaving_the_project_are_refused_with_their_position() {
        let (_d, p) = project(&[("base.nix", "{ pkgs }:\n  import ../../secret.nix")]);
        let e = upload_set(&p, &["base.nix".into()]).unwrap_err();
        assert!(e.contains("base.nix:2:10"), "{e}");
        assert!(
            e.contains("../../secret.nix leads outside the project"),
            "{e}"
        );

        let (d, p) = project(&[("base.nix", "{ pkgs }: import ./link.nix")]);
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("x.nix"), "[ ]").unwrap();
        std::os::unix::fs::symlink(outside.path().join("x.nix"), d.path().join("link.nix"))
            .unwrap();
        let e = upload_set(&p, &["base.nix".into()]).unwrap_err();
        assert!(e.contains("outside the project"), "{e}");
        assert!(e.contains("base.nix:1:18"), "{e}");
    }
}
