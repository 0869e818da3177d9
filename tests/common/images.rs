//! Cleaning up the images a test's builds loaded into Docker.

use std::process::Command;

/// Removes every image whose name starts with the prefix, on drop (so also when a test fails).
pub struct ImagesNamed(pub String);

impl Drop for ImagesNamed {
    fn drop(&mut self) {
        let Ok(out) = Command::new("docker")
            .args(["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .output()
        else {
            return;
        };
        for image in String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with(&self.0))
        {
            let _ = Command::new("docker").args(["rmi", "-f", image]).output();
        }
    }
}
