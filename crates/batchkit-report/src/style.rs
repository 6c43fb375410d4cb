//! Terminal styling shared by the human printers (ANSI colours only when asked for).

/// Wraps text in an ANSI colour when `on`.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Whether to emit colour codes.
    pub on: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    /// Errors.
    pub fn red(&self, s: &str) -> String {
        self.paint("1;31", s)
    }
    /// Warnings.
    pub fn yellow(&self, s: &str) -> String {
        self.paint("1;33", s)
    }
    /// Success.
    pub fn green(&self, s: &str) -> String {
        self.paint("1;32", s)
    }
    /// Locations and headings.
    pub fn blue(&self, s: &str) -> String {
        self.paint("1;34", s)
    }
    /// Emphasis.
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
}
