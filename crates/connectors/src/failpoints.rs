//! Failpoints: places where a fault-injection test makes letsdata fail, deterministically.
//!
//! Built only with the `failpoints` cargo feature (`scripts/test.sh` enables it); without it
//! `fail_point!` compiles to nothing. `LETSDATA_FAILPOINTS` switches them on, in the `fail`
//! crate's syntax: `name=actions` pairs separated by `;`, e.g.
//! `LETSDATA_FAILPOINTS='s3-part-write=20*off->return(kill)'` kills the process as `kill -9`
//! would at the 21st write of a part. Actions are `fail`'s (`off`, `sleep(ms)`, `pause`,
//! `panic`, counts `N*` and `->` sequences) and `return(kill)`. The failpoints are listed in
//! docs/dev/testing.md.

/// Reads `LETSDATA_FAILPOINTS` and switches its failpoints on. An error when it is set and
/// this build has no failpoints, or when it does not parse.
pub fn setup() -> Result<(), String> {
    let Some(spec) = std::env::var("LETSDATA_FAILPOINTS")
        .ok()
        .filter(|v| !v.trim().is_empty())
    else {
        return Ok(());
    };
    configure(&spec)
}

#[cfg(feature = "failpoints")]
fn configure(spec: &str) -> Result<(), String> {
    for pair in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, actions) = pair.split_once('=').ok_or_else(|| {
            format!("LETSDATA_FAILPOINTS: {pair:?} is not name=actions (e.g. s3-part-write=2*off->return(kill))")
        })?;
        fail::cfg(name.trim(), actions.trim())
            .map_err(|e| format!("LETSDATA_FAILPOINTS: {name}: {e}"))?;
    }
    Ok(())
}

#[cfg(not(feature = "failpoints"))]
fn configure(_spec: &str) -> Result<(), String> {
    Err(
        "LETSDATA_FAILPOINTS is set, but this letsdata was built without failpoints \
         (cargo build --features failpoints, for fault-injection tests); unset it"
            .to_string(),
    )
}

/// What a `return(stop)` waits for before it stops the process, and holds until the process
/// is continued ([`quiesce_with`]).
static QUIESCE: std::sync::OnceLock<fn() -> Box<dyn std::any::Any>> = std::sync::OnceLock::new();

/// Makes every `return(stop)` first call `quiesce` and keep what it returns until the process
/// is continued: the binary passes the store's `hold_writes`, so a stopped process is never
/// inside a database write (a frozen SQLite writer would lock every other process out) and
/// stops as a worker frozen between two store calls would. The first call wins.
pub fn quiesce_with(quiesce: fn() -> Box<dyn std::any::Any>) {
    let _ = QUIESCE.set(quiesce);
}

/// Runs blocking `f` where other work can go on meanwhile: on a multi-threaded tokio runtime
/// its other tasks move to other threads (they may be what `f` waits for).
#[cfg(feature = "failpoints")]
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Evaluates failpoint `name` where the code goes on afterwards: `return(kill)` ends the
/// process as [`act`] does, `return(stop)` stops it with SIGSTOP (the test continues it with
/// SIGCONT: a worker paused at a chosen point for as long as the test wants, e.g. past its
/// lease), and `fail`'s own actions (`sleep`, `pause`, `panic`) do what they do.
#[allow(unsafe_code)] // a signal to this process
pub fn hit(name: &str) {
    #[cfg(feature = "failpoints")]
    fail::eval(name, |arg| {
        if arg.as_deref() == Some("stop") {
            let quiet = QUIESCE.get().map(|quiesce| blocking(*quiesce));
            tracing::warn!(failpoint = name, "stopped by a failpoint (SIGSTOP)");
            // SAFETY: sending a signal to this process has no memory-safety requirements.
            unsafe {
                libc::raise(libc::SIGSTOP);
            }
            drop(quiet);
        } else {
            act(name, arg)
        }
    });
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}

/// A number a test gives failpoint `name` (`name=return(5)`), to shorten a wait that would
/// otherwise make a test slow (an SQS visibility timeout); `None` when it is off or this
/// build has no failpoints.
pub fn number(name: &str) -> Option<u64> {
    #[cfg(feature = "failpoints")]
    {
        let mut value = None;
        fail::eval(name, |arg| {
            value = arg.and_then(|a| a.trim().parse().ok());
        });
        value
    }
    #[cfg(not(feature = "failpoints"))]
    {
        let _ = name;
        None
    }
}

/// Whether failpoint `name` forces a decision at this hit (`name=return`, with counts and
/// sequences as usual, e.g. `invocation-budget=20*off->return`); `false` when it is off or
/// this build has no failpoints.
pub fn decide(name: &str) -> bool {
    #[cfg(feature = "failpoints")]
    {
        let mut on = false;
        fail::eval(name, |_| on = true);
        on
    }
    #[cfg(not(feature = "failpoints"))]
    {
        let _ = name;
        false
    }
}

/// What a failpoint's `return(arg)` does: `kill` ends the process with SIGKILL, leaving
/// everything as a crash would.
#[allow(unsafe_code)] // a signal to this process
pub fn act(name: &str, arg: Option<String>) -> ! {
    if arg.as_deref() == Some("kill") {
        // SAFETY: sending a signal to this process has no memory-safety requirements.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
    panic!("failpoint {name}: return({arg:?}) is not an action letsdata knows; use return(kill)")
}
