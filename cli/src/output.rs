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

/// A JSON array printed item by item as the items come (memory flat in their number): the
/// same text [`Output::print`] gives for the whole array at once.
pub struct ArrayPrinter<W: Write = std::io::BufWriter<std::io::Stdout>> {
    out: W,
    pretty: bool,
    items: usize,
}

impl Output {
    /// Starts printing a JSON array of letsdata's records (masked as [`Output::print`] does).
    pub fn array(&self) -> ArrayPrinter {
        ArrayPrinter::new(std::io::BufWriter::new(std::io::stdout()), self.pretty)
    }
}

impl<W: Write> ArrayPrinter<W> {
    fn new(out: W, pretty: bool) -> Self {
        Self {
            out,
            pretty,
            items: 0,
        }
    }

    pub fn item<T: Serialize>(&mut self, value: &T) -> anyhow::Result<()> {
        let mut value = serde_json::to_value(value)?;
        letsdata_model::secrets::redact(&mut value);
        write!(self.out, "{}", if self.items == 0 { "[" } else { "," })?;
        if self.pretty {
            // An element of a pretty array: on its own lines, indented one level.
            for line in serde_json::to_string_pretty(&value)?.lines() {
                write!(self.out, "\n  {line}")?;
            }
        } else {
            serde_json::to_writer(&mut self.out, &value)?;
        }
        self.items += 1;
        Ok(())
    }

    /// Closes the array (and its line); returns the writer.
    pub fn finish(mut self) -> anyhow::Result<W> {
        match (self.items, self.pretty) {
            (0, _) => writeln!(self.out, "[]")?,
            (_, true) => writeln!(self.out, "\n]")?,
            (_, false) => writeln!(self.out, "]")?,
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::ArrayPrinter;
    use serde_json::json;

    #[test]
    fn a_streamed_array_is_the_array_printed_at_once() {
        let items = [
            json!({"a": 1, "b": {"c": [1, 2, {"d": "x\ny"}]}, "e": []}),
            json!({"a": 2, "f": {}, "g": "  indented\n"}),
        ];
        for pretty in [false, true] {
            for n in 0..=items.len() {
                let mut printer = ArrayPrinter::new(Vec::new(), pretty);
                for item in &items[..n] {
                    printer.item(item).expect("print");
                }
                let printed = String::from_utf8(printer.finish().expect("finish")).expect("utf8");
                let whole = if pretty {
                    serde_json::to_string_pretty(&items[..n]).expect("json")
                } else {
                    serde_json::to_string(&items[..n]).expect("json")
                };
                assert_eq!(printed, format!("{whole}\n"), "pretty {pretty}, {n} items");
            }
        }
    }
}
