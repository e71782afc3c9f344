//! JSON output on stdout, indented with `--prettyPrint`.

use serde::Serialize;
use std::io::Write;

pub struct Output {
    pretty: bool,
}

impl Output {
    pub fn new(pretty: bool) -> Self {
        Self { pretty }
    }

    pub fn is_pretty(&self) -> bool {
        self.pretty
    }

    pub fn print<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        let text = if self.pretty {
            serde_json::to_string_pretty(value)?
        } else {
            serde_json::to_string(value)?
        };
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{text}")?;
        Ok(())
    }
}
