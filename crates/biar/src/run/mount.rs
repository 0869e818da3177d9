//! The project's `workdir/`, checked before it is bind-mounted read-write into the environment.
//!
//! A project is often someone else's (a cloned repository): its `workdir` may be a symlink, and a
//! bind mount follows it. So the folder is resolved first and mounted only when it lies inside
//! the project (never the project folder itself, whose config.json decides what is built); the
//! resolved path is what gets mounted, so a link swapped afterwards changes nothing.

use std::path::{Path, PathBuf};

use super::RunError;
use crate::config::Project;

/// A host folder proven to lie inside its project, and where it goes in the container. Made
/// only by [`project_workdir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkdirMount {
    host: PathBuf,
    target: String,
    owner: (u32, u32),
}

impl WorkdirMount {
    /// The resolved host folder (no symlinks left in it).
    pub fn host(&self) -> &Path {
        &self.host
    }

    /// The mount point and working directory in the container (`image.workdir`).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The host folder's owner, `(uid, gid)`: whom what the container writes there should
    /// belong to (see [`super::RunAs`]).
    pub fn owner(&self) -> (u32, u32) {
        self.owner
    }
}

/// `project`'s `workdir/`, created if missing, resolved, and refused ([`RunError::WorkdirOutside`],
/// bad input) when it leads out of the project.
pub fn project_workdir(project: &Project) -> Result<WorkdirMount, RunError> {
    let dir = project.workdir();
    let io_error = |e: std::io::Error| RunError::Workdir {
        path: dir.display().to_string(),
        reason: e.to_string(),
    };
    match std::fs::symlink_metadata(&dir) {
        // Not there at all: make a plain folder (`create_dir` never follows a dangling link, so
        // nothing is created outside the project).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir(&dir).map_err(io_error)?
        }
        Err(e) => return Err(io_error(e)),
        Ok(_) => {}
    }
    let root = project.root.canonicalize().map_err(|e| RunError::Workdir {
        path: project.root.display().to_string(),
        reason: e.to_string(),
    })?;
    let host = match dir.canonicalize() {
        Ok(host) => host,
        // A link to nothing.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RunError::WorkdirOutside {
                path: dir.display().to_string(),
                target: link_text(&dir),
                reason: "leads nowhere".into(),
            })
        }
        Err(e) => return Err(io_error(e)),
    };
    if host == root || !host.starts_with(&root) {
        return Err(RunError::WorkdirOutside {
            path: dir.display().to_string(),
            target: host.display().to_string(),
            reason: if host == root {
                "is the project folder itself".into()
            } else {
                "lies outside the project".into()
            },
        });
    }
    let meta = std::fs::metadata(&host).map_err(io_error)?;
    if !meta.is_dir() {
        return Err(RunError::Workdir {
            path: dir.display().to_string(),
            reason: "it is not a folder".into(),
        });
    }
    use std::os::unix::fs::MetadataExt;
    Ok(WorkdirMount {
        host,
        target: project.config.image.workdir.clone(),
        owner: (meta.uid(), meta.gid()),
    })
}

fn link_text(path: &Path) -> String {
    std::fs::read_link(path)
        .map(|t| t.display().to_string())
        .unwrap_or_else(|_| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(dir: &Path) -> Project {
        std::fs::write(dir.join("base.nix"), "{ pkgs }: [ ]\n").unwrap();
        std::fs::write(
            dir.join("config.json"),
            r#"{"baseConfig": "base.nix", "userConfig": []}"#,
        )
        .unwrap();
        Project::load(dir).unwrap()
    }

    #[test]
    fn a_missing_workdir_is_made_and_mounted() {
        let d = tempfile::tempdir().unwrap();
        let p = project(d.path());
        let m = project_workdir(&p).unwrap();
        assert_eq!(m.host(), d.path().canonicalize().unwrap().join("workdir"));
        assert_eq!(m.target(), "/home/user/workdir");
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(d.path()).unwrap();
        assert_eq!(m.owner(), (meta.uid(), meta.gid()));
    }

    #[test]
    fn a_link_inside_the_project_is_resolved() {
        let d = tempfile::tempdir().unwrap();
        let p = project(d.path());
        std::fs::create_dir_all(d.path().join("src/work")).unwrap();
        std::os::unix::fs::symlink("src/work", d.path().join("workdir")).unwrap();
        let m = project_workdir(&p).unwrap();
        assert_eq!(m.host(), d.path().canonicalize().unwrap().join("src/work"));
    }

    #[test]
    fn links_out_of_the_project_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        for target in [
            PathBuf::from("/"),
            outside.path().to_path_buf(),
            PathBuf::from(".."),
            PathBuf::from("."),
            outside.path().join("dangling"),
        ] {
            let d = tempfile::tempdir().unwrap();
            let p = project(d.path());
            std::os::unix::fs::symlink(&target, d.path().join("workdir")).unwrap();
            let e = project_workdir(&p).unwrap_err();
            assert_eq!(e.category(), crate::Category::BadInput, "{target:?}: {e}");
            assert!(e.to_string().contains("workdir"), "{e}");
            // Nothing was created at a dangling link's target.
            assert!(!outside.path().join("dangling").exists());
        }
    }
}
