//! Editing a project's package list, the one way both front ends do it: under the project's
//! [`EditLock`], with config.json and the file read afresh, so parallel edits all take effect.

use std::path::Path;

use super::{ConfigError, EditLock, Project};
use crate::nixexpr::{NixError, PackageFile};

impl Project {
    /// Applies `edit` to the package file `add`/`remove` edit ([`Project::user_file`] with
    /// `file`) of the project in `dir`, and saves it if it changed, all under the project's
    /// [`EditLock`]. Returns the entry as written, the file after the edit, and `edit`'s result.
    pub fn edit_package_file<R>(
        dir: &Path,
        file: Option<&str>,
        edit: impl FnOnce(&mut PackageFile) -> Result<R, NixError>,
    ) -> Result<(String, PackageFile, R), ConfigError> {
        let _lock = EditLock::acquire(dir)?;
        let project = Project::load(dir)?;
        let (entry, path) = project.user_file(file)?;
        let mut package_file = PackageFile::load(&path)?;
        let result = edit(&mut package_file)?;
        package_file.save()?;
        Ok((entry, package_file, result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nixexpr::AttrPath;

    #[test]
    fn parallel_edits_in_one_process_all_survive() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("config.json"),
            r#"{"baseConfig": "user.nix", "userConfig": ["user.nix"]}"#,
        )
        .unwrap();
        std::fs::write(d.path().join("user.nix"), "{ pkgs }: with pkgs; [\n]\n").unwrap();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let dir = d.path().to_path_buf();
                std::thread::spawn(move || {
                    let attr = AttrPath::parse(&format!("p{i}")).unwrap();
                    Project::edit_package_file(&dir, None, |f| f.add(&[attr])).unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let text = std::fs::read_to_string(d.path().join("user.nix")).unwrap();
        for i in 0..8 {
            assert!(text.contains(&format!("  p{i}\n")), "p{i} lost: {text}");
        }
    }
}
