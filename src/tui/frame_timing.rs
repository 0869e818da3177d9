//! Timing figures for the TUI benchmark (`scripts/bench-*.sh`): first frame, index ready, draw
//! time and key-to-frame latency, split by whether a build runs. The app loop only reports what
//! happened; the figures are written at exit when `BIAR_TUI_FRAME_LOG` names a file.

use std::time::{Duration, Instant};

use super::action::Action;

pub struct FrameTiming {
    started: Instant,
    first_frame: Option<Duration>,
    index_ready: Option<Duration>,
    frames: u64,
    /// Time spent drawing each frame (building the buffer and writing the diff).
    draws: Vec<Duration>,
    draws_building: Vec<Duration>,
    /// Key press to the frame that showed it.
    key_to_frame: Vec<Duration>,
    key_to_frame_building: Vec<Duration>,
    /// The oldest key press not yet on screen.
    pending_key: Option<Instant>,
}

impl FrameTiming {
    /// Figures counted from `started`, when the process began.
    pub fn new(started: Instant) -> FrameTiming {
        FrameTiming {
            started,
            first_frame: None,
            index_ready: None,
            frames: 0,
            draws: Vec::new(),
            draws_building: Vec::new(),
            key_to_frame: Vec::new(),
            key_to_frame_building: Vec::new(),
            pending_key: None,
        }
    }

    /// The first frame is on screen.
    pub fn first_frame(&mut self) {
        self.first_frame = Some(self.started.elapsed());
        self.frames += 1;
    }

    /// A frame begun at `begun` is on screen (with any key pressed since the last one).
    pub fn drawn(&mut self, begun: Instant, building: bool) {
        let (draws, keys) = if building {
            (&mut self.draws_building, &mut self.key_to_frame_building)
        } else {
            (&mut self.draws, &mut self.key_to_frame)
        };
        draws.push(begun.elapsed());
        if let Some(t) = self.pending_key.take() {
            keys.push(t.elapsed());
        }
        self.frames += 1;
    }

    /// A key was pressed.
    pub fn key(&mut self) {
        self.pending_key.get_or_insert_with(Instant::now);
    }

    /// An action reached the app (the index being ready is a figure).
    pub fn action(&mut self, action: &Action) {
        if let Action::IndexReady { .. } = action {
            self.index_ready.get_or_insert(self.started.elapsed());
        }
    }

    /// Writes the figures, when asked for.
    pub fn write(&self) {
        let Some(path) = std::env::var_os("BIAR_TUI_FRAME_LOG") else {
            return;
        };
        let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
        let stats = |v: &[Duration]| {
            let mut v: Vec<f64> = v.iter().map(ms).collect();
            v.sort_by(f64::total_cmp);
            let at = |q: f64| {
                v.get(((v.len() as f64 - 1.0) * q).round() as usize)
                    .copied()
            };
            serde_json::json!({"n": v.len(), "p50": at(0.5), "p99": at(0.99), "max": v.last()})
        };
        let text = serde_json::json!({
            "first_frame_ms": self.first_frame.as_ref().map(ms),
            "index_ready_ms": self.index_ready.as_ref().map(ms),
            "frames": self.frames,
            "draw_ms": stats(&self.draws),
            "draw_during_build_ms": stats(&self.draws_building),
            "key_to_frame_ms": stats(&self.key_to_frame),
            "key_to_frame_during_build_ms": stats(&self.key_to_frame_building),
        });
        let _ = std::fs::write(path, text.to_string());
    }
}
