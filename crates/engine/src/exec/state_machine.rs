//! Tasks whose implementation is a state-machine reader component (`SingleFileStateMachineReader`,
//! `MultipleFileStateMachineReader`): one call per composite document; the component pulls
//! records through the task's file cursors (one per file type). The checkpoint holds every
//! file's offset and last record type as of the last document returned.

use super::cursor::RecordCursor;
use super::invocation::{Cx, Driver, Progress, Step};
use super::wasm::{Labels, drain_guest_log, failed, write_document};
use super::{InvokeError, Runner, TaskLog, open_file, read_error};
use letsdata_connectors::source::{FileInput, FilePosition};
use letsdata_model::location::validate_key;
use letsdata_model::spec::LogLevel;
use letsdata_model::task::ConnectorFields;
use letsdata_records::{Framing, RecordReader};
use letsdata_sandbox::wit::SingleFileReaderState;
use letsdata_sandbox::{Code, FileCursor, Limits, Sandbox, StateMachine};

/// Where one file of a state-machine task stands.
#[derive(Debug, Clone)]
struct FileAt {
    file_type: String,
    offset: u64,
    last_record_type: Option<String>,
}

/// The files of one task through a state-machine reader.
pub(super) struct StateMachineFiles {
    reader: StateMachine,
    /// Every file's position as of the last document returned.
    files: Vec<FileAt>,
    /// Records the cursors had consumed at the last document.
    consumed: u64,
    labels: Labels,
}

impl StateMachineFiles {
    /// Instantiates the component, matches the manifest line's files to the file types it
    /// reads, and opens a cursor per file at its checkpoint. Returns the driver and the sum of
    /// the files' offsets.
    pub(super) async fn open(
        runner: &Runner,
        task_id: &str,
        next_part: u64,
        files: FileInput,
        (sandbox, code, limits): (&Sandbox, &Code, Limits),
        multiple: bool,
        log: &TaskLog,
    ) -> Result<(Self, u64), InvokeError> {
        let mut reader = StateMachine::new(sandbox, code, limits, multiple)
            .await
            .map_err(failed)?;
        let types = reader.s3_file_types().await.map_err(failed)?;
        let names: Vec<(String, String)> = if multiple {
            for file_type in files.files.keys() {
                if !types.contains(file_type) {
                    return Err(InvokeError::user(format!(
                        "the manifest line names file type {file_type}, which the reader does not read (getS3FileTypes: {})",
                        types.join(", ")
                    )));
                }
            }
            let mut names = Vec::new();
            for file_type in &types {
                let Some(key) = files.files.get(file_type) else {
                    return Err(InvokeError::user(format!(
                        "the manifest line has no file of type {file_type}; the reader needs {} (write the line as {})",
                        types.join(", "),
                        types
                            .iter()
                            .map(|t| format!("{t}:<key>"))
                            .collect::<Vec<_>>()
                            .join("|")
                    )));
                };
                names.push((file_type.clone(), key.clone()));
            }
            names
        } else {
            let file_type = types.first().cloned().unwrap_or_default();
            let key = files
                .files
                .values()
                .next()
                .cloned()
                .unwrap_or_else(|| files.manifest_line.clone());
            vec![(file_type, key)]
        };
        let resolved = reader
            .resolved_s3_file_names(&names)
            .await
            .map_err(failed)?;
        drain_guest_log(log, reader.drain_log());

        let position = &files.position;
        let mut cursors: Vec<Box<dyn FileCursor>> = Vec::with_capacity(resolved.len());
        let mut at = Vec::with_capacity(resolved.len());
        for (file_type, file_name) in &resolved {
            validate_key(file_name).map_err(|e| {
                InvokeError::user(format!(
                    "getResolvedS3FileName returned {file_name:?} for file type {file_type}: {e}"
                ))
            })?;
            let offset = position.offset(file_type);
            let last = position.last_record_types.get(file_type).cloned();
            let (input, read_from, _) = open_file(&files, file_name, offset, false, log).await?;
            let mut records = RecordReader::new(input, Framing::Lines, read_from);
            if read_from < offset {
                records
                    .skip_to(offset)
                    .await
                    .map_err(read_error(file_name))?;
            }
            at.push(FileAt {
                file_type: file_type.clone(),
                offset,
                last_record_type: last.clone(),
            });
            cursors.push(Box::new(RecordCursor::new(
                file_type.clone(),
                file_name.clone(),
                records,
                offset,
                last,
            )));
        }
        reader.set_cursors(cursors);
        log.log(
            LogLevel::Info,
            format!(
                "invocation started: {}, part {next_part}",
                at.iter()
                    .map(|p| format!(
                        "{} from offset {}{}",
                        p.file_type,
                        p.offset,
                        p.last_record_type
                            .as_ref()
                            .map(|t| format!(" after a {t} record"))
                            .unwrap_or_default()
                    ))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        );
        let join =
            |f: fn(&(String, String)) -> &str| resolved.iter().map(f).collect::<Vec<_>>().join("|");
        let labels = Labels::new(runner, task_id, &join(|r| &r.0), &join(|r| &r.1));
        let total = at.iter().map(|p| p.offset).sum();
        let driver = Self {
            reader,
            files: at,
            consumed: 0,
            labels,
        };
        Ok((driver, total))
    }
}

impl Driver for StateMachineFiles {
    async fn step(&mut self, cx: &mut Cx<'_>) -> Result<Step, InvokeError> {
        let ctx = self.labels.context();
        let (out, st) = (&mut *cx.out, &mut *cx.progress);
        let result = self.reader.parse_document().await;
        drain_guest_log(cx.log, self.reader.drain_log());
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                // The positions are still those after the last document returned.
                let at = self
                    .files
                    .iter()
                    .map(|f| format!("{} offset {}", f.file_type, f.offset))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(InvokeError::user(format!(
                    "{e} (in parseDocument; a redrive resumes at {at})"
                )));
            }
        };
        let now_consumed: u64 = self
            .reader
            .cursors()
            .iter()
            .map(|c| c.records_consumed())
            .sum();
        let new_records = now_consumed - self.consumed;
        self.consumed = now_consumed;
        st.pending.records_read += new_records;
        let completed = result.file_reader_state == SingleFileReaderState::Completed;
        match result.document {
            Some(composite) => {
                write_document(
                    out,
                    &mut st.pending,
                    &ctx,
                    composite.document,
                    result.status,
                );
                for e in composite.errors {
                    out.push_error_doc(
                        &ctx,
                        &e.error_start_offset_map,
                        &e.error_end_offset_map,
                        &e.error_message,
                        e.document_id.as_deref(),
                        e.serialized.as_deref().unwrap_or("").as_bytes(),
                    );
                    st.pending.error_records += 1;
                }
            }
            None if completed => {}
            None if new_records == 0 => {
                return Err(InvokeError::user(
                    "parseDocument returned no document, consumed no record and did not report COMPLETED; return ParseCompositeDocumentResult::completed() at the end of the files",
                ));
            }
            None => st.pending.skip_records += 1,
        }
        let mut total = 0;
        for (f, c) in self.files.iter_mut().zip(self.reader.cursors()) {
            f.offset = c.offset();
            f.last_record_type = c.last_record_type().map(str::to_string);
            total += f.offset;
        }
        cx.stats
            .add(&cx.stats.bytes_read, total.saturating_sub(st.resume));
        st.resume = total;
        Ok(if completed {
            Step::Finished(None)
        } else {
            Step::Continue
        })
    }

    fn position(&self, _progress: &Progress) -> Result<ConnectorFields, InvokeError> {
        let mut position = FilePosition::default();
        for f in &self.files {
            position
                .offsets
                .insert(f.file_type.clone(), f.offset.to_string());
            if let Some(t) = &f.last_record_type {
                position
                    .last_record_types
                    .insert(f.file_type.clone(), t.clone());
            }
        }
        Ok(position.to_fields())
    }

    fn describe_position(&self, _progress: &Progress) -> String {
        self.files
            .iter()
            .map(|f| format!("{} offset {}", f.file_type, f.offset))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
