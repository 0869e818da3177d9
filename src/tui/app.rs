//! The app: its state (the components), how keys and actions change it, and the loop that ties
//! terminal input, actions and backend answers together and renders when something changed.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyEvent, KeyEventKind};
use crossterm::{execute, queue, terminal};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use super::action::{Action, Pane};
use super::backend::{Backend, Engine, Request};
use super::components::{
    banner::Banner, build::Build, config::Config, doctor::Doctor, explorer::Explorer,
    generations::Generations, help::Help, init::Init, presets::Presets, push_confirm::PushConfirm,
    search::Search, status::Status, Component, Key,
};
use super::event::Input;
use super::frame_timing::FrameTiming;
use super::keymap::{Command, Keymap};
use super::render;
use super::terminal::{self as term, Term};
use super::theme::Theme;
use super::view::{DoctorState, ImageState};

/// What `P` says when the project names no registry (the key first: the status line may cut it).
pub const NO_REGISTRY: &str = "to push, set registry.host in config.json (or \
                               DOCKER_REGISTRY_HOST): no registry is configured";

/// What declining to make the builder leaves the user with.
pub const NO_BUILDER: &str = "no builder, so nothing was built: press b or r to be asked \
                              again, or run `biar-tui builder create`";

/// Exit codes after SIGTERM and SIGHUP.
const SIGTERM_EXIT: u8 = 128 + 15;
const SIGHUP_EXIT: u8 = 128 + 1;

/// At most this many frames a second.
const FRAME: Duration = Duration::from_millis(33);

/// What the loop must do for the app beyond drawing.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Request(Request),
    /// Hand the terminal to the environment (the loop owns the terminal, so not the backend).
    Attach,
    /// The same with another image than the project's (an earlier generation's, in Docker).
    AttachImage(String),
    /// Put this (sanitized) text on the clipboard: an OSC 52 sequence the loop writes.
    Clipboard(String),
    /// Save a failed derivation's (sanitized) log to the state folder.
    SaveLog {
        name: String,
        text: String,
    },
}

pub struct App {
    pub theme: Theme,
    pub keymap: Keymap,
    pub focus: Pane,
    pub presets: Presets,
    pub search: Search,
    pub config: Config,
    pub build: Build,
    pub explorer: Explorer,
    pub generations: Generations,
    pub push_confirm: PushConfirm,
    pub help: Help,
    pub doctor: Doctor,
    /// The new-project screen, where no project is.
    pub init: Init,
    pub status: Status,
    pub banner: Banner,
    pub should_quit: bool,
    /// `r` asked for a build first: attach when it succeeds.
    pub run_after_build: bool,
    /// The build under way is `r`'s (`Request::BuildForRun`): it may make no image.
    pub build_for_run: bool,
    /// Where `P` pushes, as the last loaded project says (`None`: no registry configured).
    pub registry: Option<String>,
    effects: Vec<Effect>,
}

impl App {
    pub fn new(theme: Theme, keymap: Keymap) -> App {
        App {
            theme,
            keymap,
            focus: Pane::Presets,
            presets: Presets::default(),
            search: Search::default(),
            config: Config::default(),
            build: Build::default(),
            explorer: Explorer::default(),
            generations: Generations::default(),
            push_confirm: PushConfirm::default(),
            help: Help::default(),
            doctor: Doctor::default(),
            init: Init::default(),
            status: Status::default(),
            banner: Banner::default(),
            should_quit: false,
            run_after_build: false,
            build_for_run: false,
            registry: None,
            effects: Vec::new(),
        }
    }

    /// What the app needs done, in order (requests for the backend, the terminal handoff).
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    fn request(&mut self, request: Request) {
        self.effects.push(Effect::Request(request));
    }

    /// A key press: which component gets it depends on what is on screen.
    pub fn handle_key(&mut self, event: KeyEvent) -> Option<Action> {
        let command = self.keymap.command(&event);
        let key = Key { event, command };
        if self.help.visible {
            if matches!(command, Some(Command::Help | Command::Back | Command::Quit)) {
                return Some(Action::ToggleHelp);
            }
            // Scrolling keys move the help; others do nothing behind it.
            return self.help.handle_key(&key);
        }
        if self.doctor.visible {
            // The list closes with its key, Esc or q; other keys do nothing behind it.
            return matches!(
                command,
                Some(Command::Doctor | Command::Back | Command::Quit)
            )
            .then_some(Action::ToggleDoctor);
        }
        if self.init.visible {
            if let Some(action) = self.init.handle_key(&key) {
                return Some(action);
            }
            return match command? {
                Command::Quit | Command::Back => Some(Action::Quit),
                _ => None,
            };
        }
        if self.build.offer.is_some() {
            // One key decides: y makes the builder as `builder create` would, o offline.
            return Some(match event.code {
                crossterm::event::KeyCode::Char('y' | 'Y') => {
                    Action::CreateBuilder(biar::docker::BuilderSource::Official)
                }
                crossterm::event::KeyCode::Char('o' | 'O') => {
                    Action::CreateBuilder(biar::docker::BuilderSource::Offline)
                }
                _ => Action::DeclineBuilder,
            });
        }
        if self.build.confirming {
            let yes = matches!(event.code, crossterm::event::KeyCode::Char('y' | 'Y'));
            return Some(if yes {
                Action::CancelBuild
            } else {
                Action::KeepBuilding
            });
        }
        if self.push_confirm.visible {
            return self.push_confirm.handle_key(&key);
        }
        let taken = if self.build.visible {
            self.build.handle_key(&key)
        } else if self.explorer.visible {
            self.explorer.handle_key(&key)
        } else if self.generations.visible {
            self.generations.handle_key(&key)
        } else {
            match self.focus {
                Pane::Presets => self.presets.handle_key(&key),
                Pane::Search => self.search.handle_key(&key),
                Pane::Config => self.config.handle_key(&key),
            }
        };
        if taken.is_some() {
            return taken;
        }
        match command? {
            Command::Quit => Some(Action::Quit),
            Command::Help => Some(Action::ToggleHelp),
            Command::Doctor => Some(Action::ToggleDoctor),
            Command::Build => Some(Action::Build),
            Command::Run => Some(Action::Run),
            Command::Push => Some(Action::PreviewPush),
            Command::Explore if !self.build.visible => Some(Action::ShowExplorer),
            Command::Generations if !self.build.visible => Some(Action::ShowGenerations),
            _ if self.build.visible || self.explorer.visible || self.generations.visible => None,
            Command::FocusNext => Some(Action::FocusNext),
            Command::FocusPrev => Some(Action::FocusPrev),
            Command::FocusSearch => Some(Action::Focus(Pane::Search)),
            Command::Back if self.banner.message.is_some() => Some(Action::DismissError),
            _ => None,
        }
    }

    /// Applies an action and every action it leads to.
    pub fn dispatch(&mut self, action: Action) {
        let mut queue = vec![action];
        while let Some(action) = queue.pop() {
            let mut next = self.update(&action);
            let components: [&mut dyn Component; 12] = [
                &mut self.init,
                &mut self.push_confirm,
                &mut self.presets,
                &mut self.search,
                &mut self.config,
                &mut self.build,
                &mut self.explorer,
                &mut self.generations,
                &mut self.help,
                &mut self.doctor,
                &mut self.status,
                &mut self.banner,
            ];
            for c in components {
                next.extend(c.update(&action));
            }
            // Keep the order actions were produced in.
            queue.extend(next.into_iter().rev());
        }
    }

    /// The app-wide part of an action (components see every action after this).
    fn update(&mut self, action: &Action) -> Vec<Action> {
        let mut next = Vec::new();
        match action {
            Action::Quit => self.should_quit = true,
            Action::Focus(pane) => self.focus = *pane,
            Action::FocusNext | Action::FocusPrev => {
                const ORDER: [Pane; 3] = [Pane::Presets, Pane::Search, Pane::Config];
                let i = ORDER.iter().position(|p| *p == self.focus).unwrap_or(0);
                let step = if *action == Action::FocusNext { 1 } else { 2 };
                self.focus = ORDER[(i + step) % 3];
            }
            Action::CreateProject(presets) => self.request(Request::Init(presets.clone())),
            Action::ProjectCreated(message) => {
                // The main screen starts as it does on an existing project.
                self.request(Request::LoadProject);
                self.request(Request::CheckDocker);
                next.push(Action::Notice(message.clone()));
            }
            Action::TogglePreset(name) => self.request(Request::TogglePreset(name.clone())),
            Action::AddPackage(attr) => self.request(Request::Add(attr.clone())),
            Action::RemovePackage { file, attr } => self.request(Request::Remove {
                file: file.clone(),
                attr: attr.clone(),
            }),
            Action::Search(query) if !query.trim().is_empty() => {
                let id = self.search.next_id();
                self.request(Request::Search {
                    id,
                    query: query.clone(),
                });
            }
            Action::ProjectLoaded(project) | Action::Edited { project, .. } => {
                self.registry = project.registry.clone();
                next.push(Action::Image(ImageState::Checking));
                self.request(Request::CheckImage);
            }
            // A built image gets the doctor's verdict (in the backend: it reads the image
            // through the engine).
            Action::Image(ImageState::Local) => {
                next.push(Action::Doctor(DoctorState::Checking));
                self.request(Request::Doctor);
            }
            Action::Build if !self.build.running => {
                self.build_for_run = self.run_after_build;
                self.request(if self.build_for_run {
                    Request::BuildForRun
                } else {
                    Request::Build
                });
            }
            Action::ShowExplorer => {
                // One full view at a time.
                self.generations.visible = false;
                self.request(Request::Closure);
            }
            Action::ShowGenerations => {
                self.explorer.visible = false;
                self.request(Request::Generations);
            }
            Action::CompareGenerations(marks) => match marks.as_slice() {
                [] => self.request(Request::CancelGenerationDiff),
                [from, rest @ ..] => self.request(Request::GenerationDiff {
                    from: *from,
                    to: rest.first().copied(),
                }),
            },
            Action::HideGenerations if !self.generations.marks.is_empty() => {
                // A diff still building for the closed view is not worth its build.
                self.request(Request::CancelGenerationDiff);
            }
            Action::RunGeneration(number) => {
                if self.build.running {
                    next.push(Action::Notice(
                        "a build is running: run the generation when it ends".into(),
                    ));
                } else {
                    self.request(Request::GenerationImage(*number));
                    next.push(Action::PreparingGeneration(*number));
                }
            }
            Action::GenerationReady { number, result } => match result {
                Ok(image) => self.effects.push(Effect::AttachImage(image.clone())),
                Err(e) => next.push(Action::Error(format!(
                    "generation #{number} did not run: {e}"
                ))),
            },

            Action::CreateBuilder(source) => {
                // The whole pipeline follows (it makes the image).
                self.build_for_run = false;
                // The build view still holds the offer (components see the action after this).
                let push = self.build.offer.as_ref().is_some_and(|o| o.push);
                self.request(Request::CreateBuilder {
                    push,
                    source: *source,
                });
            }
            Action::DeclineBuilder => {
                self.run_after_build = false;
                next.push(Action::Warning(NO_BUILDER.into()));
            }
            Action::CancelBuild => {
                self.run_after_build = false;
                self.request(Request::CancelBuild);
            }
            Action::SaveFailedLog => {
                if let Some((name, text)) = self.build.failed_log() {
                    self.effects.push(Effect::SaveLog { name, text });
                }
            }
            Action::CopyFailedLog => {
                if let Some((name, text)) = self.build.failed_log() {
                    let lines = text.lines().count();
                    self.effects.push(Effect::Clipboard(text));
                    next.push(Action::Notice(format!(
                        "copied the log of {name} ({lines} lines) to the clipboard (OSC 52: \
                         the terminal must allow it)"
                    )));
                }
            }
            Action::Run => {
                if self.build.running {
                    self.run_after_build = true;
                    next.push(Action::ShowBuild);
                } else if self.status.image_state == ImageState::Local {
                    self.effects.push(Effect::Attach);
                } else {
                    self.run_after_build = true;
                    next.push(Action::Build);
                }
            }
            Action::PreviewPush => {
                // What `Push` would refuse, it refuses now, before any preview.
                if self.build.running || self.status.image.is_none() || self.registry.is_none() {
                    next.push(Action::Push);
                } else {
                    self.push_confirm = PushConfirm {
                        visible: true,
                        ..Default::default()
                    };
                    self.request(Request::PreviewPush);
                }
            }
            Action::ConfirmPush => {
                self.request(Request::CancelPreview);
                next.push(Action::Push);
            }
            Action::HidePushPreview => self.request(Request::CancelPreview),
            Action::Push => {
                if self.build.running {
                    next.push(Action::ShowBuild);
                } else if self.registry.is_none() {
                    // Nothing starts: say which key of config.json names the registry (known
                    // from config.json alone, so at once, while the image state still loads).
                    next.push(Action::Warning(NO_REGISTRY.into()));
                } else if self.status.image.is_none() {
                    next.push(Action::Notice(
                        "the project is still loading: push again in a moment".into(),
                    ));
                } else if let Some(registry) = &self.registry {
                    next.push(Action::PushStarted(registry.clone()));
                    self.request(Request::Push);
                }
            }
            Action::PushFinished(result) => match result {
                Ok(_) => {
                    // Pushing does not load into Docker: a local image stays the one `r` runs.
                    if self.status.image_state != ImageState::Local {
                        next.push(Action::Image(ImageState::Registry));
                    }
                    if std::mem::take(&mut self.run_after_build) {
                        if self.status.image_state == ImageState::Local {
                            next.push(Action::HideBuild);
                            self.effects.push(Effect::Attach);
                        } else {
                            // `r` during the push: now build it into Docker, then attach.
                            self.run_after_build = true;
                            next.push(Action::Build);
                        }
                    }
                }
                Err(e) => {
                    self.run_after_build = false;
                    let first = e.lines().next().unwrap_or("").to_string();
                    // Cancelled by the user: the error says so ("push cancelled: …").
                    next.push(Action::Error(if self.build.cancelling {
                        first
                    } else {
                        format!("the push failed: {first}")
                    }));
                }
            },
            Action::BuildFinished(result) => match result {
                Ok(_) => {
                    // `r`'s build made no image (the environment runs from the store volume).
                    next.push(Action::Image(if std::mem::take(&mut self.build_for_run) {
                        ImageState::Environment
                    } else {
                        ImageState::Local
                    }));
                    if std::mem::take(&mut self.run_after_build) {
                        next.push(Action::HideBuild);
                        self.effects.push(Effect::Attach);
                    }
                }
                Err(e) => {
                    self.run_after_build = false;
                    let first = e.lines().next().unwrap_or("").to_string();
                    next.push(Action::Error(format!("the build failed: {first}")));
                }
            },
            Action::Docker(super::view::DockerState::Down { reason }) => {
                // Browsing and editing go on; say once why building and running will not.
                next.push(Action::Notice(format!("Docker: {reason}")));
            }
            Action::RunFinished(Err(e)) => {
                next.push(Action::Error(format!("the environment did not run: {e}")));
            }
            _ => {}
        }
        // A build or push records a generation: the open list shows it.
        if matches!(
            action,
            Action::BuildFinished(Ok(_)) | Action::PushFinished(Ok(_))
        ) && self.generations.visible
        {
            self.request(Request::Generations);
        }
        next
    }
}

/// Runs the UI until the user quits or a signal asks us to stop. The terminal is entered by the
/// caller; `started` is when the process began (for the first-frame figure). The exit code is 0
/// when the user quit, 143 after SIGTERM and 129 after SIGHUP.
pub async fn run(
    mut app: App,
    engine: Arc<dyn Engine>,
    terminal: &mut Term,
    started: Instant,
) -> anyhow::Result<ExitCode> {
    let (action_tx, mut actions) = mpsc::unbounded_channel::<Action>();
    let backend = Backend::spawn(engine.clone(), action_tx.clone());
    let (event_tx, mut events) = mpsc::unbounded_channel::<Event>();
    let mut input = Input::spawn(event_tx);
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut timing = FrameTiming::new(started);
    // The exit code when a signal ended the UI (128 + its number, as a shell reports it).
    let mut signalled: Option<u8> = None;

    // First frame before any engine work answers.
    draw(terminal, &app)?;
    timing.first_frame();
    let mut last_frame = Instant::now();
    let mut dirty = false;
    // Elapsed times in the build view move each second, events or not.
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    if !app.init.visible {
        backend.send(Request::LoadProject);
        backend.send(Request::CheckDocker);
    }

    loop {
        for effect in app.take_effects() {
            match effect {
                Effect::Request(r) => backend.send(r),
                Effect::Attach | Effect::AttachImage(_) => {
                    let image = match effect {
                        Effect::AttachImage(image) => Some(image),
                        _ => None,
                    };
                    let result =
                        attach(&mut input, &mut events, terminal, engine.as_ref(), image).await;
                    match result {
                        Ok(Ok((code, said))) => {
                            app.dispatch(Action::RunFinished(Ok(code)));
                            // The last word (workdir/ copied back) is the one to show.
                            if let Some(last) = said.last() {
                                let text = biar::progress::neutralise_text(
                                    last.lines().next().unwrap_or(""),
                                );
                                app.dispatch(Action::Notice(text));
                            }
                        }
                        Ok(Err(e)) => app.dispatch(Action::RunFinished(Err(e))),
                        Err(code) => {
                            signalled = Some(code);
                            app.dispatch(Action::Quit);
                        }
                    }
                    let (w, h) = terminal::size().unwrap_or((80, 24));
                    app.dispatch(Action::Resize(w, h));
                    dirty = true;
                }
                Effect::Clipboard(text) => {
                    if let Err(e) = term::copy_osc52(&text) {
                        app.dispatch(Action::Error(format!("copying the log: {e}")));
                        dirty = true;
                    }
                }
                Effect::SaveLog { name, text } => {
                    let tx = action_tx.clone();
                    tokio::task::spawn_blocking(move || {
                        let said = match biar::nixbuild::build_times::save_log(&name, &text) {
                            Ok(file) => Action::Notice(format!(
                                "saved the log of {name} to {}",
                                file.display()
                            )),
                            Err(e) => Action::Error(format!("saving the log of {name}: {e}")),
                        };
                        let _ = tx.send(said);
                    });
                }
            }
        }
        if app.should_quit {
            break;
        }
        if dirty && last_frame.elapsed() >= FRAME {
            let begun = Instant::now();
            draw(terminal, &app)?;
            timing.drawn(begun, app.build.running);
            last_frame = Instant::now();
            dirty = false;
        }
        let next_frame = tokio::time::Instant::from_std(last_frame + FRAME);
        tokio::select! {
            Some(event) = events.recv() => match event {
                Event::Key(key) if key.kind != KeyEventKind::Release => {
                    timing.key();
                    if let Some(action) = app.handle_key(key) {
                        app.dispatch(action);
                    }
                    dirty = true;
                }
                Event::Resize(w, h) => {
                    app.dispatch(Action::Resize(w, h));
                    dirty = true;
                }
                Event::Paste(text) if app.focus == Pane::Search && !app.build.visible => {
                    let query = format!("{}{}", app.search.query, text.replace(['\n', '\r'], " "));
                    app.dispatch(Action::Search(query));
                    dirty = true;
                }
                _ => {}
            },
            Some(action) = actions.recv() => {
                timing.action(&action);
                app.dispatch(action);
                dirty = true;
            }
            _ = sigterm.recv() => {
                signalled = Some(SIGTERM_EXIT);
                app.dispatch(Action::Quit);
            }
            _ = sighup.recv() => {
                signalled = Some(SIGHUP_EXIT);
                app.dispatch(Action::Quit);
            }
            _ = tick.tick(), if app.build.running => {
                app.dispatch(Action::Tick);
                dirty = true;
            }
            _ = tokio::time::sleep_until(next_frame), if dirty => {}
        }
    }
    if app.build.running {
        stop_build(&backend, &mut actions).await;
    }
    timing.write();
    Ok(signalled.map_or(ExitCode::SUCCESS, ExitCode::from))
}

/// Quitting mid-build (or mid-push): stop it and give it a moment to remove its container, so
/// nothing outlives the UI.
async fn stop_build(backend: &Backend, actions: &mut mpsc::UnboundedReceiver<Action>) {
    backend.send(Request::CancelBuild);
    let stopped = async {
        while let Some(action) = actions.recv().await {
            if let Action::BuildFinished(_) | Action::PushFinished(_) = action {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), stopped).await;
}

/// One frame inside a synchronized update, so the terminal shows it whole.
fn draw(terminal: &mut Term, app: &App) -> std::io::Result<()> {
    queue!(terminal.backend_mut(), terminal::BeginSynchronizedUpdate)?;
    terminal.draw(|frame| render::draw(app, frame))?;
    execute!(terminal.backend_mut(), terminal::EndSynchronizedUpdate)?;
    Ok(())
}

/// Hands the terminal to the environment (the project's image, or `image`) and takes it back: stop reading the keyboard, leave the
/// alternate screen, run attached, then re-enter, read again and redraw everything at the
/// terminal's current size. `Err(exit code)` when SIGTERM or SIGHUP arrived meanwhile: the run has then
/// removed its container (the library handles both signals during a run), and the UI quits.
///
/// Keys typed during the hand-over go to the environment or nowhere, never to the TUI: those
/// read before the keyboard was let go (queued in `events` or in crossterm) and those typed after
/// the environment ended (in the terminal's input queue) are dropped.
async fn attach(
    input: &mut Input,
    events: &mut mpsc::UnboundedReceiver<Event>,
    terminal: &mut Term,
    engine: &dyn Engine,
    image: Option<String>,
) -> Result<Result<(i64, Vec<String>), String>, u8> {
    input.pause().await;
    while events.try_recv().is_ok() {}
    term::leave();
    let run = match image {
        Some(image) => engine.run_image(image),
        None => engine.run_attached(),
    };
    let result = match run.await {
        Ok(done) => Ok(done),
        Err(e) => match e.downcast_ref::<biar::run::RunError>() {
            Some(interrupted @ biar::run::RunError::Interrupted { .. }) => {
                // Quitting, and the terminal may be gone (SIGHUP): a new reader on a hung-up
                // terminal would spin, so nothing reads it again.
                return Err(interrupted.exit_code().unwrap_or(SIGTERM_EXIT));
            }
            _ => Err(super::backend::error_message(&e)),
        },
    };
    let _ = terminal::enable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        terminal::EnterAlternateScreen,
        crossterm::cursor::Hide
    );
    // The screen behind ratatui's buffers changed, maybe its size too: resizing to the size the
    // terminal has now clears it and resets the buffers, so the next draw repaints every cell.
    // (Not `Terminal::clear`: it asks the terminal for the cursor position, which needs the
    // keyboard reader, and would wait on the input task.)
    let (w, h) = terminal::size().unwrap_or((80, 24));
    let _ = terminal.resize(ratatui::layout::Rect::new(0, 0, w, h));
    biar::run::terminal::discard_typeahead();
    // Keys crossterm read around the hand-over (a burst typed with the `r`) are the
    // environment's or nobody's: drop any it still holds, then whatever was queued for the UI.
    super::event::discard_read_ahead().await;
    while events.try_recv().is_ok() {}
    input.resume();
    Ok(result)
}
