//! Progress on stderr, drawn only when asked for: a bar on a terminal, and one plain line
//! every few seconds when stderr is a file or a pipe (`--progress always` under a
//! scheduler), so a log shows that long work moves.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Plain progress lines for a stderr that is not a terminal.
struct Lines {
    what: String,
    total: Option<u64>,
    start: Instant,
    last: Mutex<Option<(Instant, u64)>>,
}

impl Lines {
    const EVERY: Duration = Duration::from_secs(2);

    fn print(&self, pos: u64, force: bool) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match *last {
            // The final line only when it says something new.
            Some((_, p)) if force && p == pos => return,
            Some((t, _)) if !force && now.duration_since(t) < Self::EVERY => return,
            _ => {}
        }
        *last = Some((now, pos));
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        let rate = batchkit_io::format_size((pos as f64 / secs) as u64);
        let done = batchkit_io::format_size(pos);
        match self.total {
            Some(t) if t > 0 => eprintln!(
                "{}: {done} of {} ({:.0}%), {rate}/s",
                self.what,
                batchkit_io::format_size(t),
                pos as f64 * 100.0 / t as f64
            ),
            _ => eprintln!("{}: {done}, {rate}/s", self.what),
        }
    }
}

enum Draw {
    Off,
    Bar(ProgressBar),
    Lines(std::sync::Arc<Lines>),
}

/// Progress over the bytes of one input (or several), or a no-op when progress is off.
pub struct Progress {
    draw: Draw,
    pos: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Progress {
    /// Progress for `what` (a file name), sized by `total` bytes when known.
    pub fn new(enabled: bool, what: &str, total: Option<u64>) -> Self {
        let pos = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        if !enabled {
            return Progress {
                draw: Draw::Off,
                pos,
            };
        }
        if !std::io::stderr().is_terminal() {
            return Progress {
                draw: Draw::Lines(std::sync::Arc::new(Lines {
                    what: what.to_string(),
                    total,
                    start: Instant::now(),
                    last: Mutex::new(None),
                })),
                pos,
            };
        }
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
        let style = if total.is_some() {
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
        } else {
            "{msg} {bytes} {bytes_per_sec} {elapsed}"
        };
        bar.set_style(
            ProgressStyle::with_template(style)
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        Progress {
            draw: Draw::Bar(bar),
            pos,
        }
    }

    /// Sets the position (raw bytes consumed).
    pub fn set(&self, p: u64) {
        self.pos.store(p, std::sync::atomic::Ordering::Relaxed);
        match &self.draw {
            Draw::Off => {}
            Draw::Bar(b) => b.set_position(p),
            Draw::Lines(l) => l.print(p, false),
        }
    }

    /// Removes the bar before output goes to the terminal.
    pub fn clear(&self) {
        if let Draw::Bar(b) = &self.draw {
            if !b.is_finished() {
                b.finish_and_clear();
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        match &self.draw {
            Draw::Off => {}
            Draw::Bar(b) => b.finish_and_clear(),
            Draw::Lines(l) => l.print(self.pos.load(std::sync::atomic::Ordering::Relaxed), true),
        }
    }
}
