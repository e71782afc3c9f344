//! A home for LetsData Python and JavaScript implementations: a user's project directory,
//! packed as a `.zip` or `.tar.gz`, runs here unchanged.
//!
//! - [`project`] builds a code version once per machine: unpacks the archive (refusing paths
//!   that leave it and links), finds the handler's module, installs `requirements.txt` with
//!   pip or `package.json` with npm (cached by the content hash of those files and the
//!   interpreter's version, so code versions with the same dependencies share them).
//! - [`archive`] unpacks a project (or a model) archive safely.
//! - [`process`] runs the handler: one interpreter process per running task, started with a
//!   scrubbed environment in the task's scratch directory under the dataset's memory limit,
//!   loading the handler once (`letsdata_lambda_function.lambda_handler` in Python,
//!   `index.handler` in Node.js, as LetsData's container images do) and answering LetsData's
//!   Lambda requests over a Unix socket that is not its stdout; its stdout and stderr are the
//!   handler's log. Calls are pipelined (a batch of requests is written while the answers are
//!   read) and bounded by the invocation's deadline: a hung handler is killed, a crashed one
//!   reported with the tail of its stderr.
//!
//! Nothing here knows datasets or tasks: the engine makes the requests (LetsData's protocol:
//! `{requestId, interface, function, letsdataAuth, data, batchedData}`) and reads the answers.

pub mod archive;
pub mod process;
pub mod project;

pub use process::{Handler, HandlerError, HandlerException, Reply, StartOptions};
pub use project::{BuildError, Builds, Built, Language};
