//! The dataset record as the engine changes it: its validated spec, its connectors, and every
//! status change, each asked of the lifecycle state machine and written as a compare-and-set
//! on the record's version.

use crate::{Engine, EngineError};
use letsdata_connectors::sink::{DocumentSink, SinkRole};
use letsdata_connectors::source::ReadSource;
use letsdata_model::spec::ValidationContext;
use letsdata_model::{
    ConnectorResource, Dataset, DatasetAction, DatasetId, DatasetSpec, DatasetStatus, lifecycle,
};
use letsdata_store::StoreError;

/// The dataset's validated spec, re-derived from its stored configuration.
pub(crate) fn spec_of(engine: &Engine, dataset: &Dataset) -> Result<DatasetSpec, EngineError> {
    let mut json = dataset.config.clone();
    json.insert(
        "datasetName".into(),
        serde_json::Value::String(dataset.dataset_name.clone()),
    );
    let ctx = ValidationContext {
        aws_resources: engine.objects().is_s3(),
    };
    Ok(letsdata_model::spec::parse_dataset_spec(
        &serde_json::Value::Object(json),
        ctx,
    )?)
}

/// Loads the dataset, applies `f`, and writes it back, retrying on concurrent updates.
pub(crate) async fn modify_dataset(
    engine: &Engine,
    dataset_id: &DatasetId,
    f: impl FnMut(&mut Dataset),
) -> Result<Dataset, EngineError> {
    let modified = modify_dataset_if(engine, dataset_id, |_| true, f).await?;
    Ok(modified.expect("an unconditional change is always made"))
}

/// [`modify_dataset`] while `applies` holds for the dataset as loaded (checked in the same
/// compare-and-set as the write); `None`, with nothing written, once it does not.
pub(crate) async fn modify_dataset_if(
    engine: &Engine,
    dataset_id: &DatasetId,
    applies: impl Fn(&Dataset) -> bool,
    mut f: impl FnMut(&mut Dataset),
) -> Result<Option<Dataset>, EngineError> {
    loop {
        let mut dataset = engine
            .store
            .get_dataset_by_id(dataset_id)
            .await?
            .ok_or_else(|| EngineError::DatasetNotFound(dataset_id.to_string()))?;
        if !applies(&dataset) {
            return Ok(None);
        }
        f(&mut dataset);
        match engine.store.update_dataset(&mut dataset).await {
            Ok(()) => return Ok(Some(dataset)),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Moves the dataset by `action` (with `previous` for [`DatasetAction::FinishUpdate`]) and
/// applies `also` (given the status it moved from) in the same write. Refused, with the state
/// machine's message, when the action is not allowed in the status the dataset has when the
/// write happens.
pub(crate) async fn transition(
    engine: &Engine,
    dataset_id: &DatasetId,
    action: DatasetAction,
    previous: Option<DatasetStatus>,
    mut also: impl FnMut(&mut Dataset, DatasetStatus),
) -> Result<Dataset, EngineError> {
    loop {
        let mut dataset = engine
            .store
            .get_dataset_by_id(dataset_id)
            .await?
            .ok_or_else(|| EngineError::DatasetNotFound(dataset_id.to_string()))?;
        let from = dataset.dataset_status;
        dataset.dataset_status = lifecycle::next(from, action, previous).map_err(|e| {
            EngineError::Refused(format!("dataset {:?}: {e}", dataset.dataset_name))
        })?;
        also(&mut dataset, from);
        match engine.store.update_dataset(&mut dataset).await {
            Ok(()) => return Ok(dataset),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// A dataset's connectors: its read source, write sink and error sink.
pub(crate) struct DatasetConnectors {
    pub source: Box<dyn ReadSource>,
    pub write: Box<dyn DocumentSink>,
    pub error: Box<dyn DocumentSink>,
}

impl DatasetConnectors {
    /// The connectors the registry has for `spec`.
    pub(crate) fn of(spec: &DatasetSpec) -> Result<Self, EngineError> {
        Ok(Self {
            source: letsdata_connectors::source_for(spec)?,
            write: letsdata_connectors::sink_for(spec, SinkRole::Write)?,
            error: letsdata_connectors::sink_for(spec, SinkRole::Error)?,
        })
    }

    /// The sink of `role`.
    pub(crate) fn sink(&self, role: SinkRole) -> &dyn DocumentSink {
        match role {
            SinkRole::Write => self.write.as_ref(),
            SinkRole::Error => self.error.as_ref(),
        }
    }

    /// The write sink, then the error sink, each with its role and the resource `dataset`
    /// records for it.
    pub(crate) fn sinks(
        &self,
        dataset: &Dataset,
        spec: &DatasetSpec,
    ) -> Result<[(SinkRole, &dyn DocumentSink, ConnectorResource); 2], EngineError> {
        let sink = |role| sink_resource(dataset, spec, role).map(|r| (role, self.sink(role), r));
        Ok([sink(SinkRole::Write)?, sink(SinkRole::Error)?])
    }
}

/// What the write or error connector of `dataset` writes, as recorded in its resources.
pub(crate) fn sink_resource(
    dataset: &Dataset,
    spec: &DatasetSpec,
    role: SinkRole,
) -> Result<ConnectorResource, EngineError> {
    let resource = match role {
        SinkRole::Write => dataset
            .resources
            .write(spec.write_connector.resource_location().as_str()),
        SinkRole::Error => dataset
            .resources
            .error(spec.error_connector.resource_location.as_str()),
    };
    resource.ok_or_else(|| {
        EngineError::Corrupt(format!(
            "dataset {:?} records no resource for its {}",
            dataset.dataset_name,
            role.field()
        ))
    })
}

/// Names a LetsData-located resource: `ld-<datasetname>-<8 hex of the id>-<suffix>`.
pub(crate) fn generated_name(dataset_name: &str, dataset_id: &str, suffix: &str) -> String {
    let name: String = dataset_name.to_ascii_lowercase().chars().take(40).collect();
    let id: String = dataset_id.chars().filter(|c| *c != '-').take(8).collect();
    format!("ld-{name}-{id}-{suffix}")
}

/// The task a source's seed becomes; its id derives from the dataset id and the seed's
/// identity, so creating the tasks again inserts nothing twice.
pub(crate) fn new_task(
    dataset_id: &DatasetId,
    task_type: &str,
    seed: letsdata_connectors::source::TaskSeed,
) -> letsdata_store::NewTask {
    letsdata_store::NewTask {
        task_id: letsdata_model::task::task_id(dataset_id, &seed.identity),
        ordinal: seed.ordinal,
        task_type: task_type.to_string(),
        definition: seed.definition,
    }
}
