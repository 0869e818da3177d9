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

/// The app started where no project is, offered the shipped presets.
pub fn fresh_app() -> App {
    let mut app = App::new(Theme::default(), Keymap::default());
    app.dispatch(Action::OfferInit {
        dir: "/tmp/new-project".into(),
        presets: vec![
            preset("cpp", "C and C++: gcc, cmake, gdb", false),
            preset(
                "data-science",
                "Data science: numpy, pandas, jupyter",
                false,
            ),
            preset("node", "Node.js 20 with npm", false),
            preset("python", "Python 3 with numpy and requests", false),
            preset("rust", "Rust toolchain: rustc, cargo, rust-analyzer", false),
        ],
    });
    app.take_effects();
    app
}

/// What the backend says when `r` or `b` finds no builder on a fresh machine.
pub fn builder_offer() -> super::view::BuilderOffer {
    super::view::BuilderOffer {
        push: false,
        official: vec![
            "create the builder image biar-builder:latest from nixos/nix:2.24.14 (pulled unless the engine has it)".into(),
            "create the Nix store volume biar-nix-store".into(),
            "on the Docker Engine at unix:///var/run/docker.sock".into(),
        ],
        offline: vec![
            "create the builder image biar-builder:latest from this host's Debian packages (nix-bin, busybox-static, ca-certificates; fetched with apt, nothing pulled)".into(),
            "create the Nix store volume biar-nix-store".into(),
            "on the Docker Engine at unix:///var/run/docker.sock".into(),
        ],
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

/// The closure explorer's model of a small environment shaped like example-offline's: the base
/// configuration's shell and busybox, python with numpy (sharing python), and the user's hello
/// and chatty.
pub fn closure_view(with_chatty: bool) -> crate::tui::components::explorer::ClosureView {
    use biar::nixbuild::{ClosureGraph, StorePathInfo};
    let p = |name: &str| format!("/nix/store/{:a>32}-{name}", name.len());
    let mut nodes: Vec<(&str, u64, Vec<&str>)> = vec![
        (
            "biar-env",
            75_776,
            vec![
                "shell-1.0",
                "busybox-1.35.0",
                "python3-3.12.7-env",
                "hello-2.12.1",
            ],
        ),
        ("shell-1.0", 10_504, vec!["busybox-1.35.0"]),
        ("busybox-1.35.0", 2_034_368, vec![]),
        (
            "python3-3.12.7-env",
            7_272,
            vec!["python3-3.12.7", "python3.12-numpy-2.1.3"],
        ),
        ("python3-3.12.7", 4_296, vec!["busybox-1.35.0"]),
        ("python3.12-numpy-2.1.3", 1_016, vec!["python3-3.12.7"]),
        ("hello-2.12.1", 568, vec!["shell-1.0"]),
    ];
    if with_chatty {
        nodes[0].2.push("chatty-1.0");
        nodes.push(("chatty-1.0", 523_000, vec!["shell-1.0"]));
    }
    let graph = ClosureGraph {
        roots: vec![p("biar-env")],
        paths: nodes
            .iter()
            .map(|(n, size, refs)| StorePathInfo {
                path: p(n),
                nar_size: *size,
                nar_hash: String::new(),
                closure_size: None,
                references: refs.iter().map(|r| p(r)).collect(),
            })
            .collect(),
    };
    let plan = biar::image::plan_with(&graph, 100, Default::default()).unwrap();
    let model = biar::inspect::ClosureModel::new(&graph, &p("biar-env"))
        .unwrap()
        .with_layers(&plan, |_| None);
    crate::tui::components::explorer::ClosureView(std::sync::Arc::new(model))
}

/// Three generations of [`project`], newest first: hello loaded, then hello and chatty pushed,
/// then the current configuration (hello) loaded again.
pub fn generations() -> Vec<crate::tui::view::GenerationView> {
    let g = |number, time: &str, tag: &str, pushed: bool, packages, size| {
        let reference = format!("biar-0f3a9c1e2b7d:{tag}");
        crate::tui::view::GenerationView {
            number,
            time: time.into(),
            pushed,
            remote: pushed.then(|| format!("127.0.0.1:5000/team/{reference}")),
            reference,
            packages,
            closure_size: Some(size),
        }
    };
    vec![
        g(3, "2026-12-02 09:41", "5e8a41c09d2f", false, 4, 2_132_504),
        g(2, "2026-12-02 09:12", "1c2d3e4f5a6b", true, 5, 2_655_504),
        g(1, "2026-12-01 17:03", "5e8a41c09d2f", false, 4, 2_132_504),
    ]
}

/// What changes from generation 1 to 2 (chatty added, hello's version moved).
pub fn generation_diff() -> crate::tui::view::DiffView {
    let p = |name: &str| format!("/nix/store/{:a>32}-{name}", name.len());
    crate::tui::view::DiffView {
        diff: biar::inspect::Diff {
            from: "#1 biar-0f3a9c1e2b7d:5e8a41c09d2f".into(),
            to: "#2 127.0.0.1:5000/team/biar-0f3a9c1e2b7d:1c2d3e4f5a6b".into(),
            added: vec!["chatty-1.0".into()],
            removed: vec![],
            changed: vec![biar::inspect::diff::Changed {
                name: "hello".into(),
                from: "2.12.1".into(),
                to: "2.12.2".into(),
            }],
            paths_added: vec![p("chatty-1.0"), p("hello-2.12.2"), p("biar-env")],
            paths_removed: vec![p("hello-2.12.1"), p("biar-env")],
            size_from: Some(2_132_504),
            size_to: Some(2_655_504),
        },
        push: None,
    }
}
