//! Headless tests of the whole app: actions and keys in, TestBackend frames out.

mod app;
mod backend;
mod snapshots;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use biar::nixbuild::internal_json::LogParser;
use biar::progress::{BuildEvent, Stage};

use super::action::Action;
use super::app::App;
use super::keymap::Keymap;
use super::render;
use super::theme::Theme;
use super::view::{
    CheckView, DockerState, DoctorView, FileView, Hit, ImageState, PresetView, ProjectView,
};

/// A project like `example-offline/` after loading.
pub fn project(user: &[&str]) -> ProjectView {
    ProjectView {
        root: "/tmp/project".into(),
        image: Ok("biar-0f3a9c1e2b7d:5e8a41c09d2f".into()),
        presets: vec![
            preset("node", "Node.js 20 with npm", false),
            preset("python", "Python 3 with numpy and requests", true),
            preset("rust", "Rust toolchain: rustc, cargo, rust-analyzer", false),
            preset("tools", "Everyday command-line tools", false),
        ],
        files: vec![
            FileView {
                name: "presets/python.nix".into(),
                packages: vec![
                    "python3".into(),
                    "python3Packages.numpy".into(),
                    "python3Packages.requests".into(),
                ],
                error: None,
            },
            FileView {
                name: "user.nix".into(),
                packages: user.iter().map(|s| s.to_string()).collect(),
                error: None,
            },
        ],
        registry: Some("127.0.0.1:5000/team".into()),
    }
}

fn preset(name: &str, description: &str, enabled: bool) -> PresetView {
    PresetView {
        name: name.into(),
        description: description.into(),
        enabled,
    }
}

/// The doctor's verdict on [`project`]'s image against the coder profile, as the real doctor
/// words it for the plain test image: two rules fail.
pub fn doctor_report() -> DoctorView {
    let check = |rule: &str, why: &str, fix: Option<&str>| CheckView {
        rule: rule.into(),
        passed: fix.is_none(),
        why: why.into(),
        fix: fix.map(str::to_string),
    };
    let profile_fix = "set \"image\": {\"profile\": \"coder\"} in config.json";
    DoctorView {
        image: "biar-0f3a9c1e2b7d:5e8a41c09d2f".into(),
        profile: "coder".into(),
        checks: vec![
            check("user", "runs as uid 1000 (user)", None),
            check("passwd", "/etc/passwd names uid 1000 (user)", None),
            check("group", "/etc/group has gid 1000", None),
            check("home", "/home/user exists, owned by 1000:1000", None),
            check("tmp", "/tmp is a directory with mode 1777", None),
            check("sh", "/bin/sh is there", None),
            check("env", "/usr/bin/env is there", None),
            check(
                "os-release",
                "/etc/os-release is missing",
                Some(profile_fix),
            ),
            check(
                "ca-certificates",
                "/etc/ssl/certs/ca-certificates.crt is there",
                None,
            ),
            check(
                "environment",
                "LANG is not set in the image's Env",
                Some(profile_fix),
            ),
            check("downloader", "/bin/wget is there", None),
        ],
    }
}

pub fn hits_for_hel() -> Vec<Hit> {
    vec![
        hit(
            "hello",
            "2.12.1",
            "A program that produces a familiar, friendly greeting",
            &[0, 1, 2],
        ),
        hit(
            "hello-wayland",
            "0-unstable-2024-03-04",
            "Hello world Wayland client",
            &[0, 1, 2],
        ),
        hit(
            "helix",
            "24.07",
            "A post-modern modal text editor",
            &[0, 1, 2],
        ),
        hit(
            "haskellPackages.hello",
            "1.0.0.2",
            "Hello World, an example package",
            &[0, 1, 2],
        ),
        hit(
            "shellcheck",
            "0.10.0",
            "Shell script analysis tool",
            &[1, 2, 3],
        ),
    ]
}

fn hit(attr: &str, version: &str, description: &str, matched: &[usize]) -> Hit {
    Hit {
        attr: attr.into(),
        version: Some(version.into()),
        description: Some(description.into()),
        matched: matched.to_vec(),
    }
}

/// The app as it is once the backend has answered the start-up requests.
pub fn loaded_app() -> App {
    let mut app = App::new(Theme::default(), Keymap::default());
    app.dispatch(Action::ProjectLoaded(project(&["hello"])));
    app.dispatch(Action::IndexReady { names: 124_693 });
    app.dispatch(Action::Docker(DockerState::Up {
        version: "20.10.24".into(),
    }));
    app.dispatch(Action::Image(ImageState::NotBuilt));
    app.take_effects();
    app
}

pub fn press(app: &mut App, code: KeyCode) {
    press_mod(app, code, KeyModifiers::NONE);
}

pub fn press_mod(app: &mut App, code: KeyCode, modifiers: KeyModifiers) {
    if let Some(action) = app.handle_key(KeyEvent::new(code, modifiers)) {
        app.dispatch(action);
    }
}

pub fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

pub fn draw(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| render::draw(app, f)).unwrap();
    terminal
}

/// Build events as the build pipeline sends them, from a log recorded from a real Nix build.
pub fn recorded_events(log: &str) -> Vec<BuildEvent> {
    let path = format!("{}/tests/fixtures/logs/{log}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut parser = LogParser::new();
    let mut events = vec![BuildEvent::Stage { name: Stage::Build }];
    events.extend(text.lines().flat_map(|l| parser.feed(l)));
    events
}
