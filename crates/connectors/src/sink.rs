//! Document sinks: what the engine asks of a write connector (and of the error connector).
//!
//! A [`DocumentSink`] is made from a dataset's configuration by the registry, for one role
//! ([`SinkRole`]). It owns the life of what it writes:
//!
//! * [`DocumentSink::plan`] names it when the dataset is created (a `Customer` resource from
//!   the configuration, a `LetsData` one generated) and [`DocumentSink::check`] checks, with
//!   IO, that a `Customer` one exists;
//! * initialization runs [`DocumentSink::provision`] as the step
//!   [`DocumentSink::provision_step`] names (creates a `LetsData` resource and waits until it is
//!   usable, or checks a `Customer` one again); `datasets delete` runs
//!   [`DocumentSink::delete`] as [`DocumentSink::delete_step`] for `LetsData` resources;
//! * [`DocumentSink::read_back`] serves `letsdata output read`.
//!
//! Each task invocation opens a [`SinkWriter`]. Documents reach it in batches; the engine turns
//! what it rejects ([`Rejected`]: too large, no key, refused by the service as the sender's
//! fault) into error records. A task's output is numbered in parts; [`SinkWriter::stage`]
//! makes everything handed over for a part durable, and only then does the engine checkpoint.
//! Part objects are staged (durable, not visible), recorded in the checkpoint under the task's
//! lease token, and only then published ([`SinkWriter::publish`]): a worker that lost its task
//! cannot make a part visible, and nothing uncommitted is ever visible; the next attempt
//! publishes what the last checkpoint recorded ([`SinkWriter::recover`]) and removes what
//! earlier attempts left. Exactly once. Other destinations deliver at least once, with the
//! same document ids, for consumers to de-duplicate.

use crate::ConnectorContext;
use crate::ConnectorError;
use crate::owner::Owner;
use async_trait::async_trait;
use bytes::Bytes;
use letsdata_model::ConnectorResource;
use letsdata_model::Problem;
use std::borrow::Cow;

/// Which connector of a dataset a sink serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkRole {
    /// `writeConnector`: the documents.
    Write,
    /// `errorConnector`: the error records.
    Error,
}

impl SinkRole {
    /// `writeConnector` or `errorConnector`: the configuration field, for problems' paths.
    pub fn field(self) -> &'static str {
        match self {
            Self::Write => "writeConnector",
            Self::Error => "errorConnector",
        }
    }

    /// LetsData's step-name prefix: `Write Connector` or `Error Connector`.
    pub fn step_prefix(self) -> &'static str {
        match self {
            Self::Write => "Write Connector",
            Self::Error => "Error Connector",
        }
    }
}

/// A dataset's write (or error) connector.
#[async_trait]
pub trait DocumentSink: Send + Sync {
    /// What the sink writes, as `datasets create` records it: named by the configuration, or
    /// by `generated(suffix)` for a `LetsData` resource the configuration does not name.
    fn plan(&self, generated: &dyn Fn(&str) -> String) -> ConnectorResource;

    /// Checks, with IO, that a `Customer` resource exists. Each problem names the field.
    async fn check(&self, ctx: &ConnectorContext, resource: &ConnectorResource) -> Vec<Problem>;

    /// The initialization step that provisions `resource`, if it needs one.
    fn provision_step(&self, resource: &ConnectorResource) -> Option<&'static str>;

    /// Creates a `LetsData` resource (idempotently, waiting until it is usable, tagged with
    /// `owner`; an existing one only when [`Owner::adopt`] allows it) or checks a `Customer`
    /// one; returns it with what provisioning learnt (ARN, URL).
    async fn provision(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        owner: Owner<'_>,
    ) -> Result<ConnectorResource, ConnectorError>;

    /// The `datasets delete` step that deletes `resource`: only for `LetsData` resources.
    fn delete_step(&self, resource: &ConnectorResource) -> Option<&'static str>;

    /// Deletes a `LetsData` resource (gone already is fine) when [`Owner::refuse_delete`]
    /// allows it, else leaves it in place. Returns what was done.
    async fn delete(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        owner: Owner<'_>,
    ) -> Result<String, ConnectorError>;

    /// The writer of one task.
    async fn open(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        task: &SinkTask<'_>,
    ) -> Result<Box<dyn SinkWriter>, ConnectorError>;

    /// Up to `limit` documents written (each as written: a JSON line, a message body, an item
    /// as JSON), in destination order.
    async fn read_back(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        dataset_name: &str,
        limit: usize,
    ) -> Result<Vec<Bytes>, ConnectorError>;

    /// Removes what the dataset's task attempts left unfinished (staging files, incomplete
    /// uploads) once the dataset has ended. Returns how many.
    async fn remove_leftovers(
        &self,
        _ctx: &ConnectorContext,
        _resource: &ConnectorResource,
        _dataset_name: &str,
    ) -> Result<u64, ConnectorError> {
        Ok(0)
    }

    /// Deletes what one task wrote, before a redrive from the beginning writes it again. Only
    /// part objects can be taken back; other destinations keep what they were sent.
    async fn delete_task_output(
        &self,
        _ctx: &ConnectorContext,
        _resource: &ConnectorResource,
        _task: &SinkTask<'_>,
    ) -> Result<(), ConnectorError> {
        Ok(())
    }
}

/// The task a writer writes for.
#[derive(Debug, Clone, Copy)]
pub struct SinkTask<'a> {
    pub dataset_name: &'a str,
    pub task_id: &'a str,
    /// The attempt (the task's lease token): larger for every later attempt.
    pub attempt: u64,
}

/// A part as [`SinkWriter::stage`] leaves it.
#[derive(Debug, Clone, PartialEq)]
pub enum Staged {
    /// Nothing was written to the part.
    Empty,
    /// The destination holds the documents already (streams, queues, tables, ...).
    Delivered,
    /// Complete and durable, not visible: [`SinkWriter::publish`] makes it visible. The
    /// value (opaque to the engine) is recorded in the checkpoint first.
    Pending(serde_json::Value),
}

impl Staged {
    /// Whether the part holds anything (the next part then gets the next number).
    pub fn wrote(&self) -> bool {
        !matches!(self, Self::Empty)
    }

    /// What the checkpoint records: the pending value, if any.
    pub fn pending(&self) -> Option<&serde_json::Value> {
        match self {
            Self::Pending(v) => Some(v),
            _ => None,
        }
    }
}

/// Checks that the attempt still holds its task (renewing its lease).
#[async_trait]
pub trait Fence: Send + Sync {
    /// Fails when another attempt holds the task now.
    async fn check(&self) -> Result<(), ConnectorError>;
}

/// Documents handed to a writer.
#[derive(Debug, Clone, Copy)]
pub enum DocumentBatch<'a> {
    /// The documents one per line (each followed by `\n`), for writers that take bytes
    /// ([`SinkWriter::takes_lines`]).
    Lines(&'a [u8]),
    /// Each document (without its `\n`) and its id, for writers that send documents one by
    /// one.
    Documents {
        documents: &'a [&'a [u8]],
        ids: &'a [Cow<'a, str>],
    },
}

/// A document a writer did not deliver because the destination cannot take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Position of the document in the batch.
    pub index: usize,
    /// Why, for the error record (`document of 300000 bytes exceeds ...`).
    pub reason: String,
}

/// One task's writer; see the module docs.
#[async_trait]
pub trait SinkWriter: Send {
    /// Whether the writer takes documents as lines of bytes (part objects) rather than one by
    /// one with their ids.
    fn takes_lines(&self) -> bool;

    /// What the documents go to, for error records (`Kinesis stream arn:…`).
    fn describe(&self) -> String;

    /// Hands over documents of part `part`. Returns the ones the destination rejected.
    async fn write(
        &mut self,
        part: u64,
        batch: DocumentBatch<'_>,
    ) -> Result<Vec<Rejected>, ConnectorError>;

    /// Part `part` is about to be written: a writer may start it now (begin the upload,
    /// create the staging file), so that the first write does not wait for it. A part started
    /// and left empty stages as [`Staged::Empty`].
    async fn prepare(&mut self, _part: u64) -> Result<(), ConnectorError> {
        Ok(())
    }

    /// Makes everything handed over for `part` durable; part objects stay invisible until
    /// [`SinkWriter::publish`].
    async fn stage(&mut self, part: u64) -> Result<Staged, ConnectorError>;

    /// Makes a part staged by this writer (or by an earlier attempt: the value a checkpoint
    /// recorded) visible. Idempotent.
    async fn publish(&mut self, _staged: &serde_json::Value) -> Result<(), ConnectorError> {
        Ok(())
    }

    /// Called once before the first write of an invocation, with what the task's last
    /// checkpoint recorded as staged: publishes it (its writer may have died before), then
    /// removes what earlier attempts left (staging files, incomplete uploads), checking
    /// `fence` before removing anything another attempt could still use. Returns how many
    /// leftovers were removed.
    async fn recover(
        &mut self,
        _pending: Option<&serde_json::Value>,
        _fence: &dyn Fence,
    ) -> Result<u64, ConnectorError> {
        Ok(0)
    }

    /// Abandons the current part and a staged one not published yet (the lease was lost):
    /// nothing more of it becomes visible.
    async fn abort(&mut self);
}

/// A destination that takes documents one by one and holds them once the call returns
/// (streams, queues, tables, topics, caches): nothing is left to complete at a commit.
#[async_trait]
pub(crate) trait Deliver: Send + Sync {
    /// What the documents go to, for error records.
    fn describe(&self) -> String;

    /// Delivers `documents[i]` with id `ids[i]`; returns the ones the destination rejected.
    async fn deliver(
        &self,
        documents: &[&[u8]],
        ids: &[Cow<'_, str>],
    ) -> Result<Vec<Rejected>, ConnectorError>;
}

/// The [`SinkWriter`] of a [`Deliver`] destination.
pub(crate) struct Delivering<D> {
    destination: D,
    /// Documents were delivered in the current part.
    delivered: bool,
}

impl<D: Deliver> Delivering<D> {
    pub(crate) fn boxed(destination: D) -> Box<dyn SinkWriter>
    where
        D: 'static,
    {
        Box::new(Self {
            destination,
            delivered: false,
        })
    }
}

#[async_trait]
impl<D: Deliver> SinkWriter for Delivering<D> {
    fn takes_lines(&self) -> bool {
        false
    }

    fn describe(&self) -> String {
        self.destination.describe()
    }

    async fn write(
        &mut self,
        _part: u64,
        batch: DocumentBatch<'_>,
    ) -> Result<Vec<Rejected>, ConnectorError> {
        let DocumentBatch::Documents { documents, ids } = batch else {
            return Err(ConnectorError::Corrupt(format!(
                "the {} takes documents one by one, not as lines",
                self.destination.describe()
            )));
        };
        if documents.is_empty() {
            return Ok(Vec::new());
        }
        self.delivered = true;
        self.destination.deliver(documents, ids).await
    }

    async fn stage(&mut self, _part: u64) -> Result<Staged, ConnectorError> {
        // Documents went out as they came: the part number moves on too, so that the
        // fallback document ids (`<taskId>:<part>:<n>`) of the next part are new ones.
        Ok(if std::mem::take(&mut self.delivered) {
            Staged::Delivered
        } else {
            Staged::Empty
        })
    }

    async fn abort(&mut self) {}
}
