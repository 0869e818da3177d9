//! `biar-tui` with no subcommand and no terminal: a clear message pointing at the CLI, exit 2.

mod common;

#[test]
fn without_a_terminal_the_tui_points_to_the_commands() {
    let home = tempfile::tempdir().unwrap();
    let out = common::biar(home.path())
        .args(["--project", "example-offline"])
        .current_dir(common::repo())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs a terminal"), "{stderr}");
    assert!(
        stderr.contains("biar-tui presets") && stderr.contains("--help"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing drawn on a pipe");
}
