//! `letsdata output read`: the documents a dataset wrote, one JSON document per line.

use crate::output::Output;
use clap::Subcommand;
use letsdata_engine::Engine;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum OutputCommand {
    /// Print the documents the dataset wrote, one per line: part objects in its write bucket,
    /// Kinesis records (gunzipped, from the start of every shard), SQS messages (peeked, left
    /// in the queue) or DynamoDB items.
    Read {
        #[arg(long = "datasetName", value_name = "NAME")]
        dataset_name: String,
        /// At most this many documents.
        #[arg(long, value_name = "K", default_value_t = 1000)]
        limit: usize,
    },
}

pub async fn run(command: OutputCommand, home: &Path, out: &Output) -> anyhow::Result<ExitCode> {
    let engine = Engine::open(home).await?;
    match command {
        OutputCommand::Read {
            dataset_name,
            limit,
        } => {
            let docs = engine.read_output(&dataset_name, limit).await?;
            print_documents(&docs, limit, out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One document per line; a note on stderr when the limit cut them short.
fn print_documents(docs: &[serde_json::Value], limit: usize, out: &Output) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    for doc in docs {
        if out.is_pretty() {
            serde_json::to_writer_pretty(&mut w, doc)?;
        } else {
            serde_json::to_writer(&mut w, doc)?;
        }
        w.write_all(b"\n")?;
    }
    w.flush()?;
    if docs.len() == limit {
        eprintln!("(showing the first {limit} documents; use --limit to see more)");
    }
    Ok(())
}

/// The command through a server.
pub async fn remote(
    command: OutputCommand,
    remote: &crate::remote::Remote,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let OutputCommand::Read {
        dataset_name,
        limit,
    } = command;
    let docs = remote
        .get(
            "output",
            &[("datasetName", dataset_name), ("limit", limit.to_string())],
        )
        .await?;
    let docs = match docs {
        serde_json::Value::Array(docs) => docs,
        _ => anyhow::bail!("the server's answer to output is not a list of documents"),
    };
    print_documents(&docs, limit, out)?;
    Ok(ExitCode::SUCCESS)
}
