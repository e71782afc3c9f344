//! One module per command group.

pub mod admin;
pub mod datasets;
pub mod errors;
pub mod login;
pub mod logs;
pub mod metrics;
pub mod outputs;
pub mod run;
pub mod server;
pub mod tasks;
pub mod worker;

use letsdata_model::{Dataset, DatasetStatus};
use std::process::ExitCode;

/// Exit code of a command that ran datasets: 3 when one finished ERRORED.
pub fn exit_code_for(datasets: &[Dataset]) -> ExitCode {
    let errored: Vec<&str> = datasets
        .iter()
        .filter(|d| d.dataset_status == DatasetStatus::Errored)
        .map(|d| d.dataset_name.as_str())
        .collect();
    if errored.is_empty() {
        ExitCode::SUCCESS
    } else {
        for d in datasets
            .iter()
            .filter(|d| d.dataset_status == DatasetStatus::Errored)
        {
            eprintln!(
                "error: dataset {} finished ERRORED: {}",
                d.dataset_name,
                d.last_error
                    .as_deref()
                    .unwrap_or("see `letsdata tasks list`")
            );
        }
        ExitCode::from(3)
    }
}

/// Items read at a time when a whole list is printed, and the page size of `--nextToken`
/// without `--limit`.
pub const PAGE: usize = 1000;

/// `--limit` and `--nextToken` of the list commands: with either, one page as
/// `{"<items>": [...], "nextToken": ...}` (null on the last page); without, the whole list.
#[derive(Debug, clap::Args)]
pub struct PageArgs {
    /// At most N items, as one page with a nextToken (1 to 10000).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: Option<u32>,
    /// The page after the one that returned this token.
    #[arg(long = "nextToken", value_name = "TOKEN")]
    pub next_token: Option<String>,
}

impl PageArgs {
    /// The page size asked for, `None` for the whole list.
    pub fn limit(&self) -> Option<usize> {
        match (self.limit, &self.next_token) {
            (Some(n), _) => Some(n as usize),
            (None, Some(_)) => Some(PAGE),
            (None, None) => None,
        }
    }
}

/// Prints a whole list as one JSON array, read `page_size` items at a time: `fetch(after,
/// limit)` returns a page's items and the token of the page after it (`None` on the last).
/// Memory stays flat in the length of the list.
pub async fn print_all<T, F, Fut>(
    out: &crate::output::Output,
    page_size: usize,
    mut fetch: F,
) -> anyhow::Result<()>
where
    T: serde::Serialize,
    F: FnMut(Option<String>, usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<(Vec<T>, Option<String>)>>,
{
    let mut printer = out.array();
    let mut after = None;
    loop {
        let (items, next) = fetch(after, page_size).await?;
        for item in &items {
            printer.item(item)?;
        }
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    printer.finish()?;
    Ok(())
}

/// The query of a list page through a server: the dataset, the page size, where it starts
/// (`after`, a nextToken) and the list's own filters.
pub fn page_query(
    dataset_name: &str,
    limit: usize,
    after: Option<String>,
    filters: &[(&'static str, Option<String>)],
) -> Vec<(&'static str, String)> {
    let mut query = vec![
        ("datasetName", dataset_name.to_string()),
        ("limit", limit.to_string()),
    ];
    query.extend(
        filters
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (*k, v.clone()))),
    );
    if let Some(after) = after {
        query.push(("nextToken", after));
    }
    query
}

/// A page a server answered with: its items (under `key`) and its `nextToken`.
pub fn page_of(
    page: &mut serde_json::Value,
    key: &str,
) -> anyhow::Result<(Vec<serde_json::Value>, Option<String>)> {
    let items = match page.get_mut(key).map(serde_json::Value::take) {
        Some(serde_json::Value::Array(items)) => items,
        _ => anyhow::bail!("the server's page has no {key:?} list"),
    };
    let next = page["nextToken"].as_str().map(str::to_string);
    Ok((items, next))
}

/// What a command that runs against the store itself says when given a server.
pub fn local_only(command: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "`letsdata {command}` works on the store directly, not through a server: run it without \
         --endpoint / LETSDATA_ENDPOINT, on a machine with the store (LETSDATA_HOME or \
         LETSDATA_DATABASE_URL)"
    )
}
