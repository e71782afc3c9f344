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

    /// Prints letsdata's own records (datasets, tasks, workflows) as JSON, with every secret
    /// in them masked: passwords written literally in a configuration are stored, never
    /// printed.
    pub fn print<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        let mut value = serde_json::to_value(value)?;
        letsdata_model::secrets::redact(&mut value);
        self.print_data(&value)
    }

    /// Prints the user's data (documents, error records) as JSON, as it is.
    pub fn print_data<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        let text = if self.pretty {
            serde_json::to_string_pretty(&value)?
        } else {
            serde_json::to_string(&value)?
        };
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{text}")?;
        Ok(())
    }
}
