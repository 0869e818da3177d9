//! What a `biar-tui` child process left in the engine: its builder containers (labelled with its
//! pid) and its run containers (`biar-run-PID-…`), to assert nothing is left and to clean up even
//! when a test fails.
#![allow(dead_code)]

use std::process::Command;

/// A salt unique to this test process and moment (pid and nanoseconds), for names and no-op
/// packages that must not match an earlier run's.
pub fn salt() -> String {
    super::unique_id()
}

fn ps(filters: &[String], format: Option<&str>) -> Vec<String> {
    let mut cmd = Command::new("docker");
    cmd.args(["ps", "-a"]);
    match format {
        Some(f) => cmd.args(["--format", f]),
        None => cmd.arg("-q"),
    };
    for f in filters {
        cmd.args(["--filter", f]);
    }
    let out = cmd.output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Builder containers child `pid` left behind (ids).
pub fn builder_containers_of(pid: u32) -> Vec<String> {
    ps(
        &["label=biar=builder".into(), format!("label=biar.pid={pid}")],
        None,
    )
}

/// Names of the containers (any state) whose name starts with `biar-run-PID-`.
pub fn run_containers_of(pid: u32) -> Vec<String> {
    ps(&[format!("name=biar-run-{pid}-")], Some("{{.Names}}"))
}

/// Containers (any state) child `pid` left behind: builder containers carry its pid as a label,
/// run containers in their name (ids).
pub fn containers_of(pid: u32) -> Vec<String> {
    let mut found = ps(&[format!("label=biar.pid={pid}")], None);
    found.extend(ps(&[format!("name=biar-run-{pid}-")], None));
    found
}

/// Removes the containers child `pid` left behind, on drop (even when the test fails).
pub struct RemoveContainersOf(pub u32);
impl Drop for RemoveContainersOf {
    fn drop(&mut self) {
        for id in containers_of(self.0) {
            let _ = Command::new("docker").args(["rm", "-f", &id]).output();
        }
    }
}
