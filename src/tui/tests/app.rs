//! The app driven headless by actions and keys: what it asks the backend for, and how it reacts.

use crossterm::event::{KeyCode, KeyModifiers};

use super::*;
use crate::tui::action::Pane;
use crate::tui::app::Effect;
use crate::tui::backend::Request;

fn requests(app: &mut App) -> Vec<Request> {
    app.take_effects()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Request(r) => Some(r),
            Effect::Attach => None,
        })
        .collect()
}

#[test]
fn typing_sends_each_query_and_keeps_only_the_newest_answer() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('/'));
    assert_eq!(app.focus, Pane::Search);
    type_text(&mut app, "rg");
    assert_eq!(
        requests(&mut app),
        vec![
            Request::Search {
                id: 1,
                query: "r".into()
            },
            Request::Search {
                id: 2,
                query: "rg".into()
            },
        ]
    );
    // The answer to "r" arrives late: dropped.
    app.dispatch(Action::SearchResults {
        id: 1,
        hits: hits_for_hel(),
    });
    assert!(app.search.hits.is_empty());
    app.dispatch(Action::SearchResults {
        id: 2,
        hits: hits_for_hel()[..1].to_vec(),
    });
    assert_eq!(app.search.hits.len(), 1);
    // Letters that are commands elsewhere are text here.
    type_text(&mut app, "qbd");
    assert!(!app.should_quit && !app.build.running);
    assert_eq!(app.search.query, "rgqbd");
    press_mod(&mut app, KeyCode::Char('w'), KeyModifiers::CONTROL);
    assert_eq!(app.search.query, "");
}

#[test]
fn enter_adds_and_d_removes_through_the_backend() {
    let mut app = loaded_app();
    app.dispatch(Action::Focus(Pane::Search));
    type_text(&mut app, "hel");
    let id = app.search.latest;
    app.dispatch(Action::SearchResults {
        id,
        hits: hits_for_hel(),
    });
    requests(&mut app);
    press(&mut app, KeyCode::Enter);
    assert_eq!(requests(&mut app), vec![Request::Add("hello".into())]);

    app.dispatch(Action::Focus(Pane::Config));
    press(&mut app, KeyCode::Char('G'));
    press(&mut app, KeyCode::Char('d'));
    assert_eq!(
        requests(&mut app),
        vec![Request::Remove {
            file: "user.nix".into(),
            attr: "hello".into()
        }]
    );
    // Every edit re-checks whether the new configuration's image exists.
    app.dispatch(Action::Edited {
        project: project(&[]),
        message: "removed".into(),
    });
    assert_eq!(requests(&mut app), vec![Request::CheckImage]);
    assert_eq!(app.status.image_state, ImageState::Checking);
    assert_eq!(app.config.packages().len(), 3);
}

#[test]
fn space_toggles_the_selected_preset() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char(' '));
    assert_eq!(
        requests(&mut app),
        vec![Request::TogglePreset("python".into())]
    );
}

#[test]
fn run_builds_first_then_attaches() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('r'));
    assert_eq!(app.take_effects(), vec![Effect::Request(Request::Build)]);
    assert!(app.build.visible && app.build.running);
    // A second `b` while building does not start another build.
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('b'));
    assert!(app.take_effects().is_empty());
    app.dispatch(Action::BuildFinished(Ok("biar-x:y".into())));
    assert_eq!(app.take_effects(), vec![Effect::Attach]);
    assert!(!app.build.visible);
    assert_eq!(app.status.image_state, ImageState::Local);
    // Built already: `r` attaches straight away.
    press(&mut app, KeyCode::Char('r'));
    assert_eq!(app.take_effects(), vec![Effect::Attach]);
    app.dispatch(Action::RunFinished(Ok(0)));
    assert!(app.status.note.contains("exited with code 0"));
}

#[test]
fn a_failed_build_does_not_run_and_says_why() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('r'));
    app.take_effects();
    app.dispatch(Action::BuildFinished(Err(
        "builder for 'x' failed\nmore".into()
    )));
    assert!(app.take_effects().is_empty());
    assert_eq!(
        app.banner.message.as_deref(),
        Some("the build failed: builder for 'x' failed")
    );
}

#[test]
fn cancelling_asks_once() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('b'));
    app.take_effects();
    press(&mut app, KeyCode::Char('c'));
    assert!(app.build.confirming);
    assert!(app.take_effects().is_empty());
    press(&mut app, KeyCode::Char('y'));
    assert_eq!(requests(&mut app), vec![Request::CancelBuild]);
    assert!(app.build.cancelling);
    // Asking again while it stops does nothing.
    press(&mut app, KeyCode::Char('c'));
    assert!(!app.build.confirming);
}

#[test]
fn log_is_a_ring_buffer_and_follow_mode_works() {
    use crate::tui::components::build::LOG_CAPACITY;
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('b'));
    let lines: Vec<BuildEvent> = (0..LOG_CAPACITY + 10)
        .map(|i| BuildEvent::Log {
            drv: None,
            line: format!("line {i}\x1b[2J"),
        })
        .collect();
    app.dispatch(Action::BuildEvents(lines));
    assert_eq!(app.build.log.len(), LOG_CAPACITY);
    assert!(app.build.following());
    press(&mut app, KeyCode::Up);
    assert!(!app.build.following());
    app.dispatch(Action::BuildEvents(vec![BuildEvent::Log {
        drv: None,
        line: "new".into(),
    }]));
    assert_eq!(
        app.build.scroll_back, 2,
        "the paused view stays on the same lines"
    );
    press(&mut app, KeyCode::End);
    assert!(app.build.following());
    let last: String = app
        .build
        .log
        .back()
        .unwrap()
        .spans
        .iter()
        .map(|s| s.content.as_ref())
        .collect();
    assert_eq!(last, "new");
    let first: String = app
        .build
        .log
        .front()
        .unwrap()
        .spans
        .iter()
        .map(|s| s.content.as_ref())
        .collect();
    assert_eq!(first, "line 11");
}

#[test]
fn keys_move_focus_and_quit() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.focus, Pane::Search);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.focus, Pane::Presets);
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.focus, Pane::Config);
    press(&mut app, KeyCode::Char('q'));
    assert!(app.should_quit);
}

#[test]
fn remapped_keys_work_and_show_in_help() {
    let table: toml::Table = toml::from_str("\"ctrl-b\" = \"build\"\nb = \"none\"").unwrap();
    let mut app = App::new(
        Theme::default(),
        Keymap::with_overrides(&table, "t").unwrap(),
    );
    press(&mut app, KeyCode::Char('b'));
    assert!(!app.build.running);
    press_mod(&mut app, KeyCode::Char('b'), KeyModifiers::CONTROL);
    assert!(app.build.running);
    app.dispatch(Action::HideBuild);
    app.dispatch(Action::ToggleHelp);
    let text = draw(&app, 110, 28).backend().to_string();
    assert!(text.contains("ctrl-b"));
}
