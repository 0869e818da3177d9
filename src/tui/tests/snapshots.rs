//! Every view drawn on TestBackend at two sizes, with scripted keys between draws.

use crossterm::event::{KeyCode, KeyModifiers};
use ratatui::style::Color;

use super::*;
use crate::tui::view::DockerState;

const SIZES: [(u16, u16); 2] = [(110, 28), (64, 22)];

/// Snapshots `app` at both sizes; nix store hashes and temp paths are hidden (as insta's filters
/// would, without the regex dependency).
fn check(name: &str, app: &App) {
    check_at(name, app, &SIZES);
}

fn check_at(name: &str, app: &App, sizes: &[(u16, u16)]) {
    for &(w, h) in sizes {
        let text = scrub(&draw(app, w, h).backend().to_string());
        insta::with_settings!({
            snapshot_suffix => format!("{w}x{h}"),
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!(name, text);
        });
    }
}

/// `/nix/store/<32 chars>-` → `/nix/store/[hash]-`; `/tmp/…` → `[tmp]`.
fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("/nix/store/") {
        out.push_str(&rest[..i + 11]);
        rest = &rest[i + 11..];
        let hash: String = rest.chars().take(32).collect();
        if hash.len() == 32 && hash.chars().all(|c| c.is_ascii_alphanumeric()) {
            out.push_str("[hash]");
            rest = &rest[32..];
        }
    }
    out.push_str(rest);
    out.replace("/tmp/project", "[tmp]")
}

#[test]
fn main_screen() {
    check("main", &loaded_app());
}

#[test]
fn before_anything_answered() {
    let app = App::new(Theme::default(), Keymap::default());
    check("starting", &app);
}

#[test]
fn search_shows_results_with_matches_highlighted() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "hel");
    check("search_typing", &app);
    let id = app.search.latest;
    app.dispatch(Action::SearchResults {
        id,
        hits: hits_for_hel(),
    });
    press(&mut app, KeyCode::Down);
    check("search_results", &app);

    let terminal = draw(&app, 110, 28);
    let buffer = terminal.backend().buffer();
    // "hello" on the first result row: its matched "hel" in the match colour, the rest not.
    let row_text = |y: u16| {
        (0..110)
            .map(|x| buffer[(x, y)].symbol())
            .collect::<Vec<_>>()
    };
    let (row, start) = (0..28)
        .find_map(|y| {
            let cells = row_text(y);
            (0..100)
                .find(|&x| cells[x..x + 8].concat() == "hello   ")
                .map(|x| (y, x as u16))
        })
        .expect("the hello row");
    for x in start..start + 3 {
        assert_eq!(
            buffer[(x, row)].fg,
            Theme::default().match_fg,
            "matched letter at {x}"
        );
    }
    assert_ne!(buffer[(start + 3, row)].fg, Theme::default().match_fg);
}

#[test]
fn adding_removing_and_toggling_show_at_once() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "hel");
    let id = app.search.latest;
    app.dispatch(Action::SearchResults {
        id,
        hits: hits_for_hel(),
    });
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Enter);
    // The backend answers the add with the edited project and a new tag.
    let mut edited = project(&["hello", "hello-wayland"]);
    edited.image = Ok("biar-0f3a9c1e2b7d:77aa01b2c3d4".into());
    app.dispatch(Action::Edited {
        project: edited,
        message: "added hello-wayland to user.nix".into(),
    });
    check("after_add", &app);

    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::End);
    press(&mut app, KeyCode::Char('d'));
    app.dispatch(Action::Edited {
        project: project(&["hello"]),
        message: "removed hello-wayland from user.nix".into(),
    });
    check("after_remove", &app);

    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Char(' '));
    let mut toggled = project(&["hello"]);
    toggled.presets[0].enabled = true;
    toggled.files.insert(
        0,
        FileView {
            name: "presets/node.nix".into(),
            packages: vec!["nodejs_20".into()],
            error: None,
        },
    );
    app.dispatch(Action::Edited {
        project: toggled,
        message: "turned node on".into(),
    });
    check("after_toggle", &app);
}

#[test]
fn build_view_from_recorded_events() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('b'));
    let events = recorded_events("chatty.stderr");
    let half = events.len() / 2;
    app.dispatch(Action::BuildEvents(events[..half].to_vec()));
    check("build_running", &app);

    // Scrolling pauses following; new lines do not move the view; End resumes.
    press(&mut app, KeyCode::PageUp);
    app.dispatch(Action::BuildEvents(events[half..].to_vec()));
    check("build_paused", &app);
    press(&mut app, KeyCode::End);
    app.dispatch(Action::BuildEvents(vec![
        BuildEvent::Stage {
            name: Stage::Layers,
        },
        BuildEvent::Layer {
            index: 0,
            total: 3,
            digest: "sha256:aa".into(),
            size: 3 << 20,
            reused: false,
        },
        BuildEvent::Layer {
            index: 1,
            total: 3,
            digest: "sha256:bb".into(),
            size: 1 << 10,
            reused: true,
        },
    ]));
    check("build_layers", &app);
    app.dispatch(Action::BuildFinished(Ok(
        "biar-0f3a9c1e2b7d:5e8a41c09d2f".into()
    )));
    check("build_done", &app);

    let terminal = draw(&app, 110, 28);
    let buffer = terminal.backend().buffer();
    let ok = (0..110)
        .any(|x| buffer[(x, 1)].symbol() == "✓" && buffer[(x, 1)].fg == Theme::default().ok_fg);
    assert!(ok, "the success mark is in the ok colour");
}

#[test]
fn a_new_project_screen() {
    let mut app = fresh_app();
    check("new_project", &app);
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char(' '));
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char(' '));
    check("new_project_picked", &app);
}

#[test]
fn no_builder_asks_to_make_it() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('r'));
    app.dispatch(Action::BuilderMissing(builder_offer()));
    check("builder_offer", &app);
    press(&mut app, KeyCode::Char('y'));
    app.dispatch(Action::BuildEvents(vec![
        BuildEvent::Builder {
            text: "will create the Nix store volume biar-nix-store".into(),
        },
        BuildEvent::Builder {
            text: "creating volume biar-nix-store".into(),
        },
    ]));
    check("builder_creating", &app);
}

#[test]
fn build_view_while_substituting_from_a_binary_cache() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('b'));
    let mut events = recorded_events("cache-subst.stderr");
    // Up to the second path's start: one fetched, one under way.
    let second = events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, BuildEvent::SubstituteStarted { .. }))
        .nth(1)
        .map(|(i, _)| i)
        .unwrap();
    events.truncate(second + 1);
    events.push(BuildEvent::CacheWarning {
        cache: "http://127.0.0.1:8081".into(),
        reason: "cannot be reached (Couldn't connect to server (7)): building what it would \
                 have given"
            .into(),
    });
    app.dispatch(Action::BuildEvents(events));
    // The rate is measured with the clock as events arrive: fixed here.
    app.build.fetch_rate = Some(2.5e6);
    check("build_substituting", &app);
}

#[test]
fn build_failure_and_cancel() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('b'));
    app.dispatch(Action::BuildEvents(recorded_events("failing.stderr")));
    press(&mut app, KeyCode::Char('c'));
    check("build_confirm_cancel", &app);
    press(&mut app, KeyCode::Char('n'));
    assert!(!app.build.confirming && app.build.running);
    app.dispatch(Action::BuildFinished(Err(
        "builder for '/nix/store/q5hjqamvdc48spnwaq7032iaf3r3pcfg-failing-1.0.drv' failed with exit code 1\nmain.c:3:1: error: expected ';' before '}' token".into(),
    )));
    check("build_failed", &app);
    press(&mut app, KeyCode::Esc);
    check("build_failed_back", &app);
}

#[test]
fn help_lists_the_keys() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('?'));
    check("help", &app);
    press(&mut app, KeyCode::Esc);
    assert!(!app.help.visible);
}

#[test]
fn help_scrolls_when_short() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('?'));
    check_at("help_short", &app, &[(80, 12)]);
    press(&mut app, KeyCode::PageDown);
    check_at("help_short_page_down", &app, &[(80, 12)]);
    press(&mut app, KeyCode::End);
    check_at("help_short_end", &app, &[(80, 12)]);
}

#[test]
fn push_progress_and_result() {
    let mut app = loaded_app();
    press_mod(&mut app, KeyCode::Char('P'), KeyModifiers::SHIFT);
    press(&mut app, KeyCode::Enter);
    let layer = |index, reused| BuildEvent::Layer {
        index,
        total: 3,
        digest: format!("sha256:{index}"),
        size: 3 << 20,
        reused,
    };
    let mut events = recorded_events("chatty.stderr");
    events.extend([
        BuildEvent::Stage {
            name: Stage::Layers,
        },
        layer(0, true),
        layer(1, true),
        layer(2, true),
        BuildEvent::Stage { name: Stage::Push },
        layer(1, false),
        layer(0, true),
    ]);
    app.dispatch(Action::BuildEvents(events));
    check("push_running", &app);
    app.dispatch(Action::BuildEvents(vec![
        layer(2, false),
        BuildEvent::Done {
            reference: "127.0.0.1:5000/team/biar-0f3a9c1e2b7d:5e8a41c09d2f".into(),
        },
    ]));
    app.dispatch(Action::PushFinished(Ok(crate::tui::view::PushView {
        remote: "127.0.0.1:5000/team/biar-0f3a9c1e2b7d:5e8a41c09d2f".into(),
        up_to_date: false,
        summary: biar::registry::PushSummary {
            blobs_sent: 3,
            bytes_sent: 6 << 20,
            blobs_reused: 0,
            bytes_reused: 0,
            blobs_mounted: 1,
            bytes_mounted: 3 << 20,
            ..Default::default()
        },
    })));
    check("push_done", &app);
    press(&mut app, KeyCode::Esc);
    check("push_done_back", &app);
}

#[test]
fn push_without_a_registry() {
    let mut app = loaded_app();
    let mut project = project(&["hello"]);
    project.registry = None;
    app.dispatch(Action::ProjectLoaded(project));
    app.dispatch(Action::Image(crate::tui::view::ImageState::NotBuilt));
    press_mod(&mut app, KeyCode::Char('P'), KeyModifiers::SHIFT);
    check_at("push_no_registry", &app, &[SIZES[0], SIZES[1], (80, 24)]);
}

#[test]
fn error_banners_and_docker_down() {
    let mut app = loaded_app();
    app.dispatch(Action::Docker(DockerState::Down {
        reason: "unix:///var/run/docker.sock: connection refused".into(),
    }));
    app.dispatch(Action::Image(crate::tui::view::ImageState::Unknown));
    app.dispatch(Action::Error(
        "user.nix:4:3: expected `]` to close the list opened at 3:10; fix the file, then try again"
            .into(),
    ));
    check("error_banner", &app);

    let terminal = draw(&app, 110, 28);
    let buffer = terminal.backend().buffer();
    let banner_row = (0..28)
        .find(|y| buffer[(1, *y)].symbol() == "e" && buffer[(2, *y)].symbol() == "r")
        .unwrap();
    assert_eq!(
        buffer[(1, banner_row)].bg,
        Color::Red,
        "the banner is in the error colours"
    );

    press_mod(&mut app, KeyCode::Esc, KeyModifiers::NONE);
    assert!(app.banner.message.is_none());
}

#[test]
fn themes_change_colours_not_layout() {
    let mut app = loaded_app();
    let dark = draw(&app, 64, 22).backend().to_string();
    app.theme = Theme::load("high-contrast", None).unwrap();
    let terminal = draw(&app, 64, 22);
    assert_eq!(terminal.backend().to_string(), dark);
    assert_eq!(terminal.backend().buffer()[(0, 0)].bg, Color::Black);
}

#[test]
fn tiny_terminals_do_not_panic() {
    let mut app = loaded_app();
    for (w, h) in [(1, 1), (10, 3), (20, 5), (200, 2)] {
        draw(&app, w, h);
    }
    press(&mut app, KeyCode::Char('b'));
    press(&mut app, KeyCode::Char('c'));
    press(&mut app, KeyCode::Char('?'));
    for (w, h) in [(1, 1), (10, 3), (20, 5)] {
        draw(&app, w, h);
    }
}

#[test]
fn closure_explorer() {
    let mut app = loaded_app();
    app.dispatch(Action::ProjectLoaded(project(&["hello", "chatty"])));
    press(&mut app, KeyCode::Char('e'));
    check("explorer_loading", &app);
    app.dispatch(Action::ClosureLoaded(Ok(closure_view(true))));
    press(&mut app, KeyCode::Down);
    check("explorer_packages", &app);
    press(&mut app, KeyCode::Tab);
    check("explorer_paths", &app);
    press(&mut app, KeyCode::Tab);
    check("explorer_layers", &app);
    // After removing chatty and rebuilding: the new total and the old.
    press(&mut app, KeyCode::Tab);
    app.dispatch(Action::Edited {
        project: project(&["hello"]),
        message: "removed chatty from user.nix".into(),
    });
    app.dispatch(Action::ClosureLoaded(Ok(closure_view(false))));
    check("explorer_after_removal", &app);
}

#[test]
fn push_preview() {
    let mut app = loaded_app();
    press_mod(&mut app, KeyCode::Char('P'), KeyModifiers::SHIFT);
    check("push_preview_waiting", &app);
    app.dispatch(Action::PushPreview(Ok(vec![
        "from #1 biar-0f3a9c1e2b7d:1c2d3e4f5a6b".into(),
        "to   current configuration (biar-0f3a9c1e2b7d:5e8a41c09d2f)".into(),
        "  + chatty-1.0".into(),
        "store paths: 1 added, 0 removed".into(),
        "127.0.0.1:5000/team/biar-0f3a9c1e2b7d:5e8a41c09d2f: upload 2.0 KiB (2 blobs), mount 0 B (0), skip 2.4 MiB (13)".into(),
    ])));
    check("push_preview", &app);
}

#[test]
fn doctor_verdict_in_the_status_line_and_its_list_on_a_key() {
    let mut app = loaded_app();
    app.dispatch(Action::Image(crate::tui::view::ImageState::Local));
    // The app asked the backend (the probe reads the image there, never while drawing).
    assert!(app
        .take_effects()
        .contains(&crate::tui::app::Effect::Request(
            crate::tui::backend::Request::Doctor
        )));
    app.dispatch(Action::Doctor(crate::tui::view::DoctorState::Done(
        doctor_report(),
    )));
    check("doctor_verdict", &app);
    press_mod(&mut app, KeyCode::Char('D'), KeyModifiers::SHIFT);
    assert!(app.doctor.visible);
    check("doctor_list", &app);
    // Marks in the theme's colours (a text snapshot loses them).
    let terminal = draw(&app, 110, 28);
    let buffer = terminal.backend().buffer();
    let marks: Vec<_> = (0..28)
        .flat_map(|y| (0..110).map(move |x| (x, y)))
        .filter(|&(x, y)| matches!(buffer[(x, y)].symbol(), "✓" | "✗"))
        .map(|(x, y)| (buffer[(x, y)].symbol().to_string(), buffer[(x, y)].fg))
        .collect();
    assert_eq!(marks.len(), 11, "{marks:?}");
    for (mark, fg) in marks {
        let want = if mark == "✓" {
            Theme::default().ok_fg
        } else {
            Theme::default().failed_fg
        };
        assert_eq!(fg, want, "{mark}");
    }
    press(&mut app, KeyCode::Esc);
    assert!(!app.doctor.visible);

    // A passing image; then a verdict on an image the project no longer names is dropped.
    let mut pass = doctor_report();
    for c in &mut pass.checks {
        c.passed = true;
        c.fix = None;
    }
    app.dispatch(Action::Doctor(crate::tui::view::DoctorState::Done(pass)));
    check_at("doctor_pass", &app, &[SIZES[0]]);
    let mut stale = doctor_report();
    stale.image = "biar-0f3a9c1e2b7d:000000000000".into();
    app.dispatch(Action::Doctor(crate::tui::view::DoctorState::Done(stale)));
    check_at("doctor_pass", &app, &[SIZES[0]]);
    // Not built any more: no verdict.
    app.dispatch(Action::Image(crate::tui::view::ImageState::NotBuilt));
    assert_eq!(app.status.doctor, crate::tui::view::DoctorState::Unknown);
}

#[test]
fn generations_list_and_diff() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('h'));
    check("generations_loading", &app);
    app.dispatch(Action::GenerationsLoaded(Ok(generations())));
    check("generations_list", &app);
    // Generation 1 and 2 marked: their diff below the list.
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char(' '));
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char(' '));
    app.dispatch(Action::GenerationDiff {
        marks: vec![1, 2],
        result: Ok(generation_diff()),
    });
    check("generations_diff", &app);
    // Added in the theme's ok colour, removed in its failed colour (a text snapshot loses them).
    let terminal = draw(&app, 110, 28);
    let buffer = terminal.backend().buffer();
    let row = |y: u16| {
        (0..110)
            .map(|x| buffer[(x, y)].symbol())
            .collect::<String>()
    };
    let find = |needle: &str| (0..28).find(|&y| row(y).contains(needle)).unwrap();
    let x_of = |y: u16, needle: &str| row(y).find(needle).unwrap() as u16;
    let y = find("+ chatty-1.0");
    assert_eq!(buffer[(x_of(y, "+"), y)].fg, Theme::default().ok_fg);
    let y = find("~ hello");
    assert_eq!(buffer[(x_of(y, "~"), y)].fg, Theme::default().warn_fg);

    // One mark: compared with the current configuration, which builds first.
    press(&mut app, KeyCode::Char(' '));
    check("generations_vs_current", &app);
    // No generations yet.
    app.dispatch(Action::GenerationsLoaded(Ok(Vec::new())));
    check_at("generations_none", &app, &[SIZES[0]]);
}

#[test]
fn a_long_generation_diff_scrolls() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('h'));
    app.dispatch(Action::GenerationsLoaded(Ok(generations())));
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char(' '));
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char(' '));
    let mut long = generation_diff();
    long.diff.paths_added = (0..40)
        .map(|i| format!("/nix/store/{:a>32}-dependency-{i}", i))
        .collect();
    app.dispatch(Action::GenerationDiff {
        marks: vec![1, 2],
        result: Ok(long),
    });
    check_at("generations_long_diff", &app, &[SIZES[1]]);
    // Pages move the diff, not the selection.
    let selected = app.generations.selected;
    press(&mut app, KeyCode::PageDown);
    assert!(app.generations.diff_scroll > 0);
    assert_eq!(app.generations.selected, selected);
    press(&mut app, KeyCode::End);
    press(&mut app, KeyCode::PageDown);
    press(&mut app, KeyCode::PageDown);
    press(&mut app, KeyCode::PageDown);
    check_at("generations_long_diff_end", &app, &[SIZES[1]]);
    press(&mut app, KeyCode::PageUp);
    check_at("generations_long_diff_back", &app, &[SIZES[1]]);
}

/// `events` folded into a tree on a scripted clock: the `n`th event arrives at `times[n]` seconds
/// (the last time for the rest), then the tree's clock stands at `now`.
fn timed_tree(events: &[BuildEvent], times: &[u64], now: u64) -> biar::progress::BuildTree {
    let mut tree = biar::progress::BuildTree::new();
    for (i, e) in events.iter().enumerate() {
        let at = times.get(i).or(times.last()).copied().unwrap_or(0);
        tree.on(e, std::time::Duration::from_secs(at));
    }
    tree.tick(std::time::Duration::from_secs(now));
    tree
}

#[test]
fn build_tree_with_times_bytes_and_an_eta() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('b'));
    let drv = |h: char, name: &str| format!("/nix/store/{}-{name}.drv", h.to_string().repeat(32));
    let fetched = format!("/nix/store/{}-busybox-1.35.0", "f".repeat(32));
    let planned = |path: &str, name: &str, fetch, estimate| BuildEvent::Planned {
        path: path.into(),
        name: name.into(),
        fetch,
        estimate,
    };
    let events = vec![
        BuildEvent::Stage { name: Stage::Build },
        planned(&fetched, "busybox-1.35.0", true, None),
        planned(
            &drv('a', "openssl-3.0.13"),
            "openssl-3.0.13",
            false,
            Some(95.0),
        ),
        planned(
            &drv('b', "python3-3.12.4"),
            "python3-3.12.4",
            false,
            Some(240.0),
        ),
        planned(&drv('c', "my-tool-0.1"), "my-tool-0.1", false, None),
        planned(&drv('d', "biar-env"), "biar-env", false, Some(1.0)),
        BuildEvent::SubstituteStarted {
            path: fetched.clone(),
            name: "busybox-1.35.0".into(),
            cache: "http://cache.invalid".into(),
        },
        BuildEvent::Fetching {
            path: fetched.clone(),
            bytes: 3 << 20,
            expected: 3 << 20,
        },
        BuildEvent::SubstituteFinished {
            path: fetched.clone(),
        },
        BuildEvent::DerivationStarted {
            drv: drv('a', "openssl-3.0.13"),
            name: "openssl-3.0.13".into(),
        },
        BuildEvent::Phase {
            drv: drv('a', "openssl-3.0.13"),
            phase: "buildPhase".into(),
        },
        BuildEvent::Progress {
            done: 0,
            expected: 4,
            running: 1,
            failed: 0,
        },
    ];
    app.dispatch(Action::BuildEvents(events.clone()));
    // The same events on a scripted clock: the fetch took 4s, openssl builds since 5s.
    app.build.tree = timed_tree(&events, &[0, 0, 0, 0, 0, 0, 1, 5, 5, 5, 6, 6], 65);
    check("build_tree_running", &app);
}

#[test]
fn a_failed_derivation_is_pinned_over_the_tree() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('b'));
    let events = recorded_events("failing.stderr");
    app.dispatch(Action::BuildEvents(events.clone()));
    app.dispatch(Action::BuildFinished(Err(
        "building failing-1.0 failed (/nix/store/q5hjqamvdc48spnwaq7032iaf3r3pcfg-failing-1.0.drv)"
            .into(),
    )));
    let times: Vec<u64> = (0..events.len() as u64).map(|i| i / 4).collect();
    app.build.tree = timed_tree(&events, &times, 12);
    check("build_tree_failed", &app);
}
