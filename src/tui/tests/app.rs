//! The app driven headless by actions and keys: what it asks the backend for, and how it reacts.

use crossterm::event::{KeyCode, KeyModifiers};

use super::*;
use crate::tui::action::Pane;
use crate::tui::app::Effect;
use crate::tui::backend::Request;
use crate::tui::view::PushView;

fn requests(app: &mut App) -> Vec<Request> {
    app.take_effects()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Request(r) => Some(r),
            _ => None,
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
    // `r`'s build: the environment, run from the store volume (no image needed).
    assert_eq!(
        app.take_effects(),
        vec![Effect::Request(Request::BuildForRun)]
    );
    assert!(app.build.visible && app.build.running);
    // A second `b` while building does not start another build.
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('b'));
    assert!(app.take_effects().is_empty());
    app.dispatch(Action::BuildFinished(Ok("biar-x:y".into())));
    // No image was made: no doctor.
    assert_eq!(app.take_effects(), vec![Effect::Attach]);
    assert!(!app.build.visible);
    assert_eq!(app.status.image_state, ImageState::Environment);
    app.dispatch(Action::RunFinished(Ok(0)));
    // `b` builds the image as before: then `r` attaches straight away.
    press(&mut app, KeyCode::Char('b'));
    assert_eq!(app.take_effects(), vec![Effect::Request(Request::Build)]);
    app.dispatch(Action::BuildFinished(Ok("biar-x:y".into())));
    assert_eq!(app.take_effects(), vec![Effect::Request(Request::Doctor)]);
    assert_eq!(app.status.image_state, ImageState::Local);
    press(&mut app, KeyCode::Char('r'));
    assert_eq!(app.take_effects(), vec![Effect::Attach]);
    app.dispatch(Action::RunFinished(Ok(0)));
    assert!(app.status.note.contains("exited with code 0"));
}

#[test]
fn a_new_project_is_picked_created_and_opened_in_the_main_screen() {
    let mut app = fresh_app();
    assert!(app.init.visible);
    // Keys that are commands on the main screen pick here.
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char(' '));
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char(' '));
    press(&mut app, KeyCode::Char('b'));
    assert!(
        requests(&mut app).is_empty(),
        "nothing built before a project exists"
    );
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        requests(&mut app),
        vec![Request::Init(vec!["data-science".into(), "python".into()])]
    );
    assert!(app.init.creating);
    // Once written, the main screen loads it as on any start.
    app.dispatch(Action::ProjectCreated(
        "created the project: presets/python.nix, config.json".into(),
    ));
    assert!(!app.init.visible);
    assert_eq!(
        requests(&mut app),
        vec![Request::LoadProject, Request::CheckDocker]
    );
    assert!(app.status.note.contains("created the project"));
    app.dispatch(Action::ProjectLoaded(project(&[])));
    assert_eq!(requests(&mut app), vec![Request::CheckImage]);
    press(&mut app, KeyCode::Char('q'));
    assert!(app.should_quit);
}

#[test]
fn a_failed_creation_keeps_the_choice_and_q_quits() {
    let mut app = fresh_app();
    press(&mut app, KeyCode::Char(' '));
    press(&mut app, KeyCode::Enter);
    requests(&mut app);
    app.dispatch(Action::Error(
        "/tmp/new-project/user.nix is in the way".into(),
    ));
    assert!(app.init.visible && !app.init.creating);
    assert_eq!(app.init.chosen(), vec!["cpp".to_string()]);
    press(&mut app, KeyCode::Char('q'));
    assert!(app.should_quit);
}

#[test]
fn run_on_a_fresh_machine_offers_the_builder_then_builds_and_attaches() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('r'));
    assert_eq!(
        app.take_effects(),
        vec![Effect::Request(Request::BuildForRun)]
    );
    // The pipeline found no builder: the build view asks, nothing else happens meanwhile.
    app.dispatch(Action::BuilderMissing(builder_offer()));
    assert!(app.build.visible && !app.build.running && app.build.offer.is_some());
    assert!(app.take_effects().is_empty());
    // One key: make it, and the same run goes on (build, then attach).
    press(&mut app, KeyCode::Char('y'));
    assert_eq!(
        app.take_effects(),
        vec![Effect::Request(Request::CreateBuilder {
            push: false,
            source: biar::docker::BuilderSource::Official,
        })]
    );
    assert!(app.build.running && app.build.offer.is_none());
    app.dispatch(Action::BuildEvents(vec![BuildEvent::Builder {
        text: "creating volume biar-nix-store".into(),
    }]));
    assert!(app
        .build
        .log
        .iter()
        .any(|l| l.to_string() == "builder: creating volume biar-nix-store"));
    app.dispatch(Action::BuildFinished(Ok("biar-x:y".into())));
    // A built image also gets the doctor's verdict, as after any build.
    assert_eq!(
        app.take_effects(),
        vec![Effect::Attach, Effect::Request(Request::Doctor)]
    );
}

#[test]
fn the_builder_offer_can_be_made_offline_or_declined() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('b'));
    app.take_effects();
    app.dispatch(Action::BuilderMissing(builder_offer()));
    press(&mut app, KeyCode::Char('o'));
    assert_eq!(
        app.take_effects(),
        vec![Effect::Request(Request::CreateBuilder {
            push: false,
            source: biar::docker::BuilderSource::Offline,
        })]
    );

    // Any other key: nothing is made or built, `r` forgets its run, the status line says how on.
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('r'));
    app.take_effects();
    app.dispatch(Action::BuilderMissing(builder_offer()));
    press(&mut app, KeyCode::Char('q'));
    assert!(app.take_effects().is_empty());
    assert!(!app.should_quit && !app.run_after_build && !app.build.visible);
    assert!(
        app.status.note.contains("builder create"),
        "{}",
        app.status.note
    );
    // Asked again on the next `b`.
    press(&mut app, KeyCode::Char('b'));
    assert_eq!(app.take_effects(), vec![Effect::Request(Request::Build)]);
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

fn pushed_view() -> PushView {
    PushView {
        remote: "127.0.0.1:5000/team/biar-0f3a9c1e2b7d:5e8a41c09d2f".into(),
        up_to_date: false,
        summary: biar::registry::PushSummary {
            blobs_sent: 2,
            bytes_sent: 3 << 20,
            blobs_reused: 1,
            bytes_reused: 1 << 10,
            blobs_mounted: 1,
            bytes_mounted: 5 << 20,
            ..Default::default()
        },
    }
}

fn push_layers() -> Vec<BuildEvent> {
    let layer = |index, reused| BuildEvent::Layer {
        index,
        total: 3,
        digest: format!("sha256:{index}"),
        size: 1 << 20,
        reused,
    };
    vec![
        BuildEvent::Stage { name: Stage::Push },
        layer(0, false),
        layer(2, true),
    ]
}

#[test]
fn shift_p_pushes_with_progress_in_the_build_view_and_the_result_in_the_status_line() {
    let mut app = loaded_app();
    press_mod(&mut app, KeyCode::Char('P'), KeyModifiers::SHIFT);
    // First what the push changes and sends; enter pushes.
    assert!(app.push_confirm.visible);
    assert_eq!(
        app.take_effects(),
        vec![Effect::Request(Request::PreviewPush)]
    );
    app.dispatch(Action::PushPreview(Ok(vec!["  + hello-2.12.1".into()])));
    press(&mut app, KeyCode::Enter);
    assert!(!app.push_confirm.visible);
    // The preview's build stops first (it would hold Nix's locks), then the push starts.
    assert_eq!(
        app.take_effects(),
        vec![
            Effect::Request(Request::CancelPreview),
            Effect::Request(Request::Push)
        ]
    );
    assert!(app.build.visible && app.build.running && app.build.push);
    // `b` and `P` again while it runs start nothing else.
    press(&mut app, KeyCode::Char('b'));
    press_mod(&mut app, KeyCode::Char('P'), KeyModifiers::SHIFT);
    assert!(app.take_effects().is_empty());

    app.dispatch(Action::BuildEvents(push_layers()));
    assert_eq!(app.status.pushing(), Some((2, 3)));
    assert_eq!(
        (app.build.tally.layers_sent, app.build.tally.layers_reused),
        (1, 1)
    );
    app.dispatch(Action::PushFinished(Ok(pushed_view())));
    assert!(!app.build.running);
    assert_eq!(app.status.image_state, ImageState::Registry);
    assert_eq!(
        app.status.note,
        "pushed 2 blobs (3.0 MiB), 1 reused, 1 mounted"
    );
    assert!(app.take_effects().is_empty(), "a push does not attach");
}

#[test]
fn a_push_keeps_a_local_image_local_for_r() {
    let mut app = loaded_app();
    app.dispatch(Action::Image(ImageState::Local));
    press_mod(&mut app, KeyCode::Char('P'), KeyModifiers::SHIFT);
    press(&mut app, KeyCode::Enter);
    app.take_effects();
    app.dispatch(Action::PushFinished(Ok(PushView {
        up_to_date: true,
        ..pushed_view()
    })));
    assert_eq!(app.status.image_state, ImageState::Local);
    assert_eq!(app.status.note, "already in the registry: nothing sent");
    press(&mut app, KeyCode::Char('r'));
    assert_eq!(app.take_effects(), vec![Effect::Attach]);
}

#[test]
fn r_during_a_push_builds_the_environment_then_attaches() {
    let mut app = loaded_app();
    press_mod(&mut app, KeyCode::Char('P'), KeyModifiers::SHIFT);
    press(&mut app, KeyCode::Enter);
    app.take_effects();
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('r'));
    assert!(app.build.visible && app.take_effects().is_empty());
    app.dispatch(Action::PushFinished(Ok(pushed_view())));
    // Pushed, not in Docker: `r` still needs its environment (from the store volume).
    assert_eq!(
        app.take_effects(),
        vec![Effect::Request(Request::BuildForRun)]
    );
    assert!(app.build.running && !app.build.push);
    app.dispatch(Action::BuildFinished(Ok("biar-x:y".into())));
    assert_eq!(app.take_effects(), vec![Effect::Attach]);
}

#[test]
fn push_without_a_registry_says_which_key_to_set_and_starts_nothing() {
    let mut app = loaded_app();
    let mut project = project(&["hello"]);
    project.registry = None;
    app.dispatch(Action::ProjectLoaded(project));
    app.take_effects();
    press_mod(&mut app, KeyCode::Char('P'), KeyModifiers::SHIFT);
    assert!(
        app.take_effects().is_empty(),
        "nothing asked of the backend"
    );
    assert!(!app.build.visible && !app.build.running);
    assert!(app.status.warning);
    assert_eq!(app.status.note, crate::tui::app::NO_REGISTRY);
    // Readable on an 80-column terminal with a full-length image reference: the key to set.
    let mut long = project_with_long_reference();
    long.registry = None;
    app.dispatch(Action::ProjectLoaded(long));
    let screen = draw(&app, 80, 24).backend().to_string();
    let status = screen.lines().last().unwrap();
    assert!(status.contains("to push, set registry.host"), "{status}");
    // The next note is a plain one again.
    app.dispatch(Action::Notice("turned node on".into()));
    assert!(!app.status.warning);
}

fn project_with_long_reference() -> ProjectView {
    let mut p = project(&["hello"]);
    p.image = Ok("biar-fe4c99a17f3987dd52f044bac25d8dd4:792425c134271b581d524650b2b45f27".into());
    p
}

#[test]
fn cancelling_a_push_asks_once_and_says_nothing_was_tagged() {
    let mut app = loaded_app();
    press_mod(&mut app, KeyCode::Char('P'), KeyModifiers::SHIFT);
    press(&mut app, KeyCode::Enter);
    app.take_effects();
    app.dispatch(Action::BuildEvents(push_layers()));
    press(&mut app, KeyCode::Char('c'));
    assert!(app.build.confirming);
    let screen = draw(&app, 110, 28).backend().to_string();
    assert!(screen.contains("Cancel the push?"), "{screen}");
    press(&mut app, KeyCode::Char('y'));
    assert_eq!(requests(&mut app), vec![Request::CancelBuild]);
    app.dispatch(Action::PushFinished(Err(
        "push cancelled: nothing was tagged; re-run `biar-tui build --push` to finish".into(),
    )));
    assert!(!app.build.running && app.status.pushing().is_none());
    assert_eq!(app.status.image_state, ImageState::NotBuilt);
    assert!(app
        .banner
        .message
        .as_deref()
        .is_some_and(|m| m.starts_with("push cancelled: nothing was tagged")));
    // Said as cancelled, not failed (issue 10).
    assert_eq!(app.status.note, "push cancelled");
    assert!(app.build.cancelled);
    let screen = draw(&app, 110, 28).backend().to_string();
    assert!(
        screen.contains("✗ cancelled") && !screen.contains("failed"),
        "{screen}"
    );
}

#[test]
fn the_help_scrolls_on_a_short_terminal_and_keeps_its_keys_to_itself() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('?'));
    let first = draw(&app, 80, 12).backend().to_string();
    assert!(
        first.contains("search packages") && first.contains("↓ more"),
        "{first}"
    );
    assert!(!first.contains("quit"), "{first}");
    press(&mut app, KeyCode::End);
    let last = draw(&app, 80, 12).backend().to_string();
    assert!(last.contains("quit") && last.contains("↑ more"), "{last}");
    assert!(!last.contains("search packages"), "{last}");
    // Up from the bottom moves at once (the scroll never runs past the last page).
    press(&mut app, KeyCode::Up);
    let up = draw(&app, 80, 12).backend().to_string();
    assert!(up.contains("↑↓ more"), "{up}");
    press(&mut app, KeyCode::PageUp);
    press(&mut app, KeyCode::PageUp);
    assert_eq!(draw(&app, 80, 12).backend().to_string(), first);
    // Keys that are commands elsewhere do nothing behind the help.
    press(&mut app, KeyCode::Char('b'));
    assert!(!app.build.running && app.take_effects().is_empty());
    press(&mut app, KeyCode::Esc);
    assert!(!app.help.visible);
}

#[test]
fn the_explorer_builds_the_closure_sorts_and_removes_a_package_then_shows_the_new_size() {
    let mut app = loaded_app();
    app.dispatch(Action::ProjectLoaded(project(&["hello", "chatty"])));
    app.take_effects();
    press(&mut app, KeyCode::Char('e'));
    assert!(app.explorer.visible && app.explorer.loading);
    assert_eq!(requests(&mut app), vec![Request::Closure]);
    app.dispatch(Action::ClosureLoaded(Ok(closure_view(true))));
    // Largest added size first: chatty is its own; busybox, shared with the shell, saves nothing.
    let names: Vec<&str> = app.explorer.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names[0], "chatty-1.0");
    // `s` cycles the order: by closure size, busybox's closure is its own 2 MB.
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.explorer.sort, biar::inspect::SortKey::Closure);
    press(&mut app, KeyCode::Char('s'));
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.explorer.sort, biar::inspect::SortKey::Name);
    let names: Vec<&str> = app.explorer.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "busybox-1.35.0",
            "chatty-1.0",
            "hello-2.12.1",
            "python3-3.12.7-env",
            "shell-1.0"
        ]
    );
    // A package of the base configuration is not removable here; the user's chatty is.
    press(&mut app, KeyCode::Char('d'));
    assert!(requests(&mut app).is_empty());
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char('d'));
    assert_eq!(
        requests(&mut app),
        vec![Request::Remove {
            file: "user.nix".into(),
            attr: "chatty".into()
        }]
    );
    // The edit is done: the explorer rebuilds and shows the new total beside the old.
    app.dispatch(Action::Edited {
        project: project(&["hello"]),
        message: "removed chatty from user.nix".into(),
    });
    assert!(requests(&mut app).contains(&Request::Closure));
    app.dispatch(Action::ClosureLoaded(Ok(closure_view(false))));
    let before = app.explorer.previous_total.unwrap();
    let after = app.explorer.model.as_ref().unwrap().total_size();
    assert_eq!(before - after, 523_000);
    // Esc goes back to the main screen.
    press(&mut app, KeyCode::Esc);
    assert!(!app.explorer.visible);
}

#[test]
fn the_push_preview_is_cancelled_with_esc() {
    let mut app = loaded_app();
    press_mod(&mut app, KeyCode::Char('P'), KeyModifiers::SHIFT);
    assert_eq!(requests(&mut app), vec![Request::PreviewPush]);
    // Keys behind the question do nothing.
    press(&mut app, KeyCode::Char('b'));
    assert!(requests(&mut app).is_empty());
    press(&mut app, KeyCode::Esc);
    assert!(!app.push_confirm.visible && !app.build.running);
    assert_eq!(requests(&mut app), vec![Request::CancelPreview]);
}

#[test]
fn h_lists_the_generations_space_marks_two_to_compare_and_enter_runs_one() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('h'));
    assert!(app.generations.visible && app.generations.loading);
    assert_eq!(requests(&mut app), vec![Request::Generations]);
    app.dispatch(Action::GenerationsLoaded(Ok(generations())));
    let numbers: Vec<u64> = app.generations.list.iter().map(|g| g.number).collect();
    assert_eq!(numbers, [3, 2, 1], "newest first");

    // One mark: compared with the current configuration (the backend builds it).
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char(' '));
    assert_eq!(
        requests(&mut app),
        vec![Request::GenerationDiff { from: 2, to: None }]
    );
    // A second: the older is FROM, whatever the order they were marked in.
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char(' '));
    assert_eq!(app.generations.marks, [1, 2]);
    assert_eq!(
        requests(&mut app),
        vec![Request::GenerationDiff {
            from: 1,
            to: Some(2)
        }]
    );
    // The answer for the single mark arrives late: dropped; the one for both is shown.
    app.dispatch(Action::GenerationDiff {
        marks: vec![2],
        result: Err("stale".into()),
    });
    assert_eq!(
        app.generations.diff,
        crate::tui::components::generations::DiffState::Computing
    );
    app.dispatch(Action::GenerationDiff {
        marks: vec![1, 2],
        result: Ok(generation_diff()),
    });
    assert_eq!(
        app.generations.diff,
        crate::tui::components::generations::DiffState::Done(generation_diff())
    );
    // A third mark replaces the older of the two.
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Char(' '));
    assert_eq!(app.generations.marks, [2, 3]);
    requests(&mut app);
    // Keys of the main screen do nothing behind the list.
    press(&mut app, KeyCode::Char('/'));
    assert_ne!(app.focus, Pane::Search);

    // Enter: the backend finds the image (pulling it back if need be), then the app attaches
    // to it.
    press(&mut app, KeyCode::Enter);
    assert_eq!(requests(&mut app), vec![Request::GenerationImage(3)]);
    assert_eq!(app.generations.preparing, Some(3));
    app.dispatch(Action::GenerationReady {
        number: 3,
        result: Ok("biar-0f3a9c1e2b7d:5e8a41c09d2f".into()),
    });
    assert_eq!(
        app.take_effects(),
        vec![Effect::AttachImage("biar-0f3a9c1e2b7d:5e8a41c09d2f".into())]
    );
    assert_eq!(app.generations.preparing, None);

    // Gone from Docker and the registry: said in the banner, nothing attaches.
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Enter);
    assert_eq!(requests(&mut app), vec![Request::GenerationImage(2)]);
    app.dispatch(Action::GenerationReady {
        number: 2,
        result: Err("generation #2 (biar-0f3a9c1e2b7d:1c2d3e4f5a6b) is gone".into()),
    });
    assert!(app.take_effects().is_empty());
    assert!(app.banner.message.as_deref().unwrap().contains("is gone"));

    // Esc closes the list and stops a diff still building; the next visit starts unmarked.
    press(&mut app, KeyCode::Esc);
    assert!(!app.generations.visible);
    assert_eq!(requests(&mut app), vec![Request::CancelGenerationDiff]);
    press(&mut app, KeyCode::Char('h'));
    assert!(app.generations.marks.is_empty());
    assert_eq!(requests(&mut app), vec![Request::Generations]);
}

#[test]
fn a_build_while_the_generations_are_open_refreshes_them() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('h'));
    app.dispatch(Action::GenerationsLoaded(Ok(generations())));
    requests(&mut app);
    press(&mut app, KeyCode::Char('b'));
    assert!(requests(&mut app).contains(&Request::Build));
    // Enter during the build runs nothing: the build is said to be running.
    app.dispatch(Action::HideBuild);
    press(&mut app, KeyCode::Enter);
    assert!(requests(&mut app).is_empty());
    assert_eq!(app.generations.preparing, None);
    assert!(
        app.status.note.contains("a build is running"),
        "{}",
        app.status.note
    );
    app.dispatch(Action::BuildFinished(Ok("biar-x:y".into())));
    assert!(requests(&mut app).contains(&Request::Generations));
}

#[test]
fn a_failed_derivation_s_log_is_saved_with_w_and_copied_with_y_sanitized() {
    let mut app = loaded_app();
    // Nothing failed: the keys do nothing.
    press(&mut app, KeyCode::Char('b'));
    app.take_effects();
    press(&mut app, KeyCode::Char('w'));
    press(&mut app, KeyCode::Char('y'));
    assert!(app.take_effects().is_empty());

    let mut events = recorded_events("failing.stderr");
    // The builder's own hostile text never reaches the saved or copied log.
    let at = events
        .iter()
        .position(|e| matches!(e, BuildEvent::Log { .. }))
        .unwrap();
    events.insert(
        at,
        BuildEvent::Log {
            drv: Some("/nix/store/q5hjqamvdc48spnwaq7032iaf3r3pcfg-failing-1.0.drv".into()),
            line: "\x1b[31mred\x1b[0m\x1b]52;c;UFdORUQ=\x07 \u{9b}2Jend".into(),
        },
    );
    app.dispatch(Action::BuildEvents(events));
    app.dispatch(Action::BuildFinished(Err(
        "building failing-1.0 failed".into()
    )));
    let expected = "red end\nconfiguring failing-1.0\ncompiling main.c\n\
                    main.c:3:1: error: expected ';' before '}' token\n";

    press(&mut app, KeyCode::Char('w'));
    assert_eq!(
        app.take_effects(),
        vec![Effect::SaveLog {
            name: "failing-1.0".into(),
            text: expected.into()
        }]
    );
    press(&mut app, KeyCode::Char('y'));
    assert_eq!(app.take_effects(), vec![Effect::Clipboard(expected.into())]);
    assert!(
        app.status
            .note
            .contains("copied the log of failing-1.0 (4 lines)"),
        "{}",
        app.status.note
    );
}

#[test]
fn the_build_tree_follows_events_and_ticks() {
    let mut app = loaded_app();
    press(&mut app, KeyCode::Char('b'));
    app.dispatch(Action::BuildEvents(recorded_events("env.stderr")));
    let tree = &app.build.tree;
    assert_eq!(tree.len(), 3);
    assert_eq!(tree.count(biar::progress::NodeState::Done), 3);
    assert_eq!(tree.root().state, biar::progress::NodeState::Done);
    // A new build starts a new tree.
    app.dispatch(Action::BuildFinished(Ok("biar-x:y".into())));
    press(&mut app, KeyCode::Char('b'));
    assert!(app.build.tree.is_empty());
    app.dispatch(Action::Tick);
    assert!(app.build.running);
}
