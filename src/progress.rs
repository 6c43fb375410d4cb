//! Progress, drawn only when asked for: a bar on a terminal's stderr, and one plain line
//! every few seconds on the printer's stderr when that is a file or a pipe (`--progress
//! always` under a scheduler), so a log shows that long work moves.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Plain progress lines for a stderr that is not a terminal.
struct Lines {
    what: String,
    total: Option<u64>,
    start: Instant,
    last: Option<(Instant, u64)>,
}

impl Lines {
    const EVERY: Duration = Duration::from_secs(2);

    fn print(&mut self, pos: u64, force: bool, err: &mut dyn Write) {
        let now = Instant::now();
        match self.last {
            // The final line only when it says something new.
            Some((_, p)) if force && p == pos => return,
            Some((t, _)) if !force && now.duration_since(t) < Self::EVERY => return,
            _ => {}
        }
        self.last = Some((now, pos));
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        let rate = batchkit_io::format_size((pos as f64 / secs) as u64);
        let done = batchkit_io::format_size(pos);
        // Progress is best effort: a stderr that cannot be written does not stop the job.
        let _ = match self.total {
            Some(t) if t > 0 => writeln!(
                err,
                "{}: {done} of {} ({:.0}%), {rate}/s",
                self.what,
                batchkit_io::format_size(t),
                pos as f64 * 100.0 / t as f64
            ),
            _ => writeln!(err, "{}: {done}, {rate}/s", self.what),
        };
    }
}

enum Draw {
    Bar(ProgressBar),
    Lines(Lines),
}

/// Progress over the bytes of one input (or several).
struct Progress {
    draw: Draw,
    pos: u64,
}

impl Progress {
    /// Progress for `what` (a file name), sized by `total` bytes when known.
    fn new(what: &str, total: Option<u64>) -> Self {
        if !std::io::stderr().is_terminal() {
            return Progress {
                draw: Draw::Lines(Lines {
                    what: what.to_string(),
                    total,
                    start: Instant::now(),
                    last: None,
                }),
                pos: 0,
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
            pos: 0,
        }
    }

    /// Sets the position (raw bytes consumed).
    fn set(&mut self, p: u64, err: &mut dyn Write) {
        self.pos = p;
        match &mut self.draw {
            Draw::Bar(b) => b.set_position(p),
            Draw::Lines(l) => l.print(p, false, err),
        }
    }

    /// Removes the bar, or writes the last line.
    fn finish(&mut self, err: &mut dyn Write) {
        match &mut self.draw {
            Draw::Bar(b) => b.finish_and_clear(),
            Draw::Lines(l) => l.print(self.pos, true, err),
        }
    }
}

/// A job that stops with an error leaves no bar behind (the error is said after it).
impl Drop for Progress {
    fn drop(&mut self) {
        if let Draw::Bar(b) = &self.draw {
            if !b.is_finished() {
                b.finish_and_clear();
            }
        }
    }
}

/// One bar per input, for the input being read (a new bar when the job moves to another).
pub struct PerInput {
    /// Each input's name and size, when known.
    sizes: Vec<(String, Option<u64>)>,
    bar: Option<(String, Progress)>,
}

impl PerInput {
    /// Bars for the inputs `sizes` (name, size when known); an input not listed is sized
    /// by its path.
    pub fn new(sizes: Vec<(String, Option<u64>)>) -> Self {
        PerInput { sizes, bar: None }
    }
}

/// Each input's name and size, when known: what the bars are measured against.
pub fn sizes<'a>(
    inputs: impl IntoIterator<Item = &'a batchkit_io::Input>,
) -> Vec<(String, Option<u64>)> {
    inputs
        .into_iter()
        .map(|i| (i.name.clone(), i.len_hint()))
        .collect()
}

impl batchkit_report::Progress for PerInput {
    fn update(&mut self, file: &str, read: u64, err: &mut dyn Write) {
        if self.bar.as_ref().is_none_or(|(n, _)| n != file) {
            self.finish(err);
            let total = match self.sizes.iter().find(|(n, _)| n == file) {
                Some((_, size)) => *size,
                None => (file != "<stdin>")
                    .then(|| batchkit_io::Input::path(file).len_hint())
                    .flatten(),
            };
            self.bar = Some((file.to_string(), Progress::new(file, total)));
        }
        if let Some((_, p)) = &mut self.bar {
            p.set(read, err);
        }
    }

    fn finish(&mut self, err: &mut dyn Write) {
        if let Some((_, mut p)) = self.bar.take() {
            p.finish(err);
        }
    }
}

/// One bar over several inputs read one after the other (named `what`).
pub struct Together {
    /// Each input's name and size, in order, to place one input's progress in the whole.
    sizes: Vec<(String, u64)>,
    bar: Option<Progress>,
}

impl Together {
    /// A bar for `what`, over the inputs `sizes` (name, size when known).
    pub fn new(what: &str, sizes: Vec<(String, Option<u64>)>) -> Self {
        let total: Option<u64> = sizes.iter().map(|(_, n)| *n).sum();
        Together {
            bar: Some(Progress::new(what, total)),
            sizes: sizes
                .into_iter()
                .map(|(name, n)| (name, n.unwrap_or(0)))
                .collect(),
        }
    }
}

impl batchkit_report::Progress for Together {
    fn update(&mut self, file: &str, read: u64, err: &mut dyn Write) {
        let before: u64 = self
            .sizes
            .iter()
            .take_while(|(name, _)| name != file)
            .map(|(_, n)| n)
            .sum();
        if let Some(p) = &mut self.bar {
            p.set(before + read, err);
        }
    }

    fn finish(&mut self, err: &mut dyn Write) {
        if let Some(mut p) = self.bar.take() {
            p.finish(err);
        }
    }
}

/// Progress as `--progress` says: `make()` when on, none when off.
pub fn when(
    on: bool,
    make: impl FnOnce() -> Box<dyn batchkit_report::Progress>,
) -> Box<dyn batchkit_report::Progress> {
    if on {
        make()
    } else {
        Box::new(batchkit_report::NoProgress)
    }
}
