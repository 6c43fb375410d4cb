//! Progress bars on stderr, drawn only when asked for.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar over the bytes of one input, or a no-op when progress is off.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar for `what` (a file name), sized by `total` bytes when known.
    pub fn new(enabled: bool, what: &str, total: Option<u64>) -> Self {
        if !enabled {
            return Progress { bar: None };
        }
        let bar = match total {
            Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
        };
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
        Progress { bar: Some(bar) }
    }

    /// Sets the position (raw bytes consumed).
    pub fn set(&self, pos: u64) {
        if let Some(b) = &self.bar {
            b.set_position(pos);
        }
    }

    /// Removes the bar before output goes to the terminal.
    pub fn clear(&self) {
        if let Some(b) = &self.bar {
            if !b.is_finished() {
                b.finish_and_clear();
            }
        }
    }

    /// A callback for [`batchkit_io`]'s `run_with_progress`.
    pub fn callback(&self) -> impl Fn(u64) + Sync + 'static {
        let bar = self.bar.clone();
        move |p| {
            if let Some(b) = &bar {
                b.set_position(p);
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
