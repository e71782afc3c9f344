//! A built-in parser over a file: decompress, cut records (SIMD search), parse each record
//! into the output buffer in place.
//!
//! Uncompressed files resume with a ranged read at the checkpoint's offset; compressed ones
//! (and CSV with a header, whose parser needs the header row) are read from the start and
//! skipped forward.

use super::invocation::{Cx, Driver, Progress, Step};
use super::output::ErrorContext;
use super::{Input, InvokeError, Runner, TaskLog, open_file, read_error};
use letsdata_connectors::s3::BUILTIN_FILE_TYPE;
use letsdata_connectors::source::{FileInput, FilePosition};
use letsdata_model::spec::{BuiltinParser, LogLevel};
use letsdata_model::task::ConnectorFields;
use letsdata_records::{ParseOutcome, RecordParser, RecordReader, builtin_parser, framing_for};

/// One file through a built-in parser.
pub(super) struct BuiltinFiles {
    reader: RecordReader<Input>,
    parser: Box<dyn RecordParser>,
    file_type: String,
    file_name: String,
    dataset_name: String,
    dataset_id: String,
    task_id: String,
    doc_id: String,
    /// The reader's position when bytes read were last counted.
    counted: u64,
    /// The file's size, when it is not compressed.
    size: Option<u64>,
}

impl BuiltinFiles {
    /// Opens the task's file at its checkpoint. Returns the driver, the offset it resumes at,
    /// and the file type and name (for error records).
    pub(super) async fn open(
        runner: &Runner,
        task_id: &str,
        next_part: u64,
        files: FileInput,
        parser_spec: &BuiltinParser,
        log: &TaskLog,
    ) -> Result<(Self, u64, (String, String)), InvokeError> {
        let dataset = runner.dataset.as_ref();
        let (file_type, file_name) = match files.files.get(BUILTIN_FILE_TYPE) {
            Some(name) => (BUILTIN_FILE_TYPE.to_string(), name.clone()),
            None => (BUILTIN_FILE_TYPE.to_string(), files.manifest_line.clone()),
        };
        let offset = files.position.offset(&file_type);
        log.log(
            LogLevel::Info,
            format!("invocation started: file {file_name} from offset {offset}, part {next_part}"),
        );
        let needs_header = matches!(
            parser_spec,
            BuiltinParser::Csv {
                has_header: true,
                ..
            }
        );
        let (input, read_from, len) =
            open_file(&files, &file_name, offset, needs_header, log).await?;
        let ranged = read_from == offset;
        let mut reader = RecordReader::new(input, framing_for(parser_spec), read_from);
        if let Some(len) = len {
            reader = reader.for_input_of(len);
        }
        let mut parser = builtin_parser(parser_spec, &file_name);
        if needs_header && offset > 0 {
            // Let the parser see the header row, then jump to the checkpoint.
            let mut scratch = Vec::new();
            let mut id = String::new();
            loop {
                if let Some(rec) = reader.try_next() {
                    parser.parse(&rec, &mut scratch, &mut id);
                    break;
                }
                if !reader.fill().await.map_err(read_error(&file_name))? {
                    break;
                }
            }
        }
        if !ranged && offset > 0 {
            reader
                .skip_to(offset)
                .await
                .map_err(read_error(&file_name))?;
        }
        // Counted from where the input began, so a file read from its start and skipped
        // forward counts what it skipped: bytes read are bytes decompressed.
        let counted = read_from;
        let driver = Self {
            reader,
            parser,
            file_type: file_type.clone(),
            file_name: file_name.clone(),
            dataset_name: dataset.dataset_name.clone(),
            dataset_id: dataset.dataset_id.to_string(),
            task_id: task_id.to_string(),
            doc_id: String::new(),
            counted,
            size: len.map(|len| read_from + len),
        };
        Ok((driver, offset, (file_type, file_name)))
    }
}

impl Driver for BuiltinFiles {
    async fn step(&mut self, cx: &mut Cx<'_>) -> Result<Step, InvokeError> {
        let ctx = ErrorContext {
            dataset_name: &self.dataset_name,
            dataset_id: &self.dataset_id,
            task_id: &self.task_id,
            file_type: &self.file_type,
            file_name: &self.file_name,
        };
        let out = &mut *cx.out;
        let st = &mut *cx.progress;
        while let Some(rec) = self.reader.try_next() {
            st.pending.records_read += 1;
            if rec.truncated {
                out.push_oversize(&ctx, rec.start_offset, rec.end_offset, rec.bytes);
                st.pending.error_records += 1;
            } else {
                self.doc_id.clear();
                match self.parser.parse(&rec, &mut out.docs, &mut self.doc_id) {
                    ParseOutcome::Document => {
                        out.end_doc(&self.doc_id);
                        st.pending.documents_written += 1;
                    }
                    ParseOutcome::Skip => st.pending.skip_records += 1,
                    ParseOutcome::Header => st.pending.records_read -= 1,
                    ParseOutcome::Error(message) => {
                        if cx.log.enabled(LogLevel::Debug) {
                            cx.log.log(
                                LogLevel::Debug,
                                format!(
                                    "error record at offsets {}..{}: {message}",
                                    rec.start_offset, rec.end_offset
                                ),
                            );
                        }
                        out.push_error(
                            &ctx,
                            rec.start_offset,
                            rec.end_offset,
                            &message,
                            &self.doc_id,
                            rec.bytes,
                        );
                        st.pending.error_records += 1;
                    }
                }
            }
            st.resume = rec.next_offset;
            if out.due() {
                return Ok(Step::Continue);
            }
        }
        let position = self.reader.position();
        cx.stats
            .add(&cx.stats.bytes_read, position.saturating_sub(self.counted));
        self.counted = position;
        match self.reader.fill().await {
            Ok(true) => Ok(Step::Continue),
            Ok(false) => Ok(Step::Finished(None)),
            Err(e) => Err(read_error(&self.file_name)(e)),
        }
    }

    fn position(&self, progress: &Progress) -> Result<ConnectorFields, InvokeError> {
        Ok(single_file_position(&self.file_type, progress.resume))
    }

    fn input_bytes(&self) -> Option<u64> {
        self.size
    }
}

/// The position of a single file at `offset`.
pub(super) fn single_file_position(file_type: &str, offset: u64) -> ConnectorFields {
    let mut position = FilePosition::default();
    position
        .offsets
        .insert(file_type.to_string(), offset.to_string());
    position.to_fields()
}
