//! Why user code failed.

/// An error from loading or running user code.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The artifact is not a valid WebAssembly component.
    #[error("the implementation is not a valid WebAssembly component: {0}")]
    Invalid(String),
    /// The component does not export what the dataset's `readerType` needs.
    #[error("{0}")]
    MissingExport(String),
    /// The component could not be instantiated (for example it imports something the
    /// sandbox does not grant).
    #[error("the implementation could not be started: {0}")]
    Instantiate(String),
    /// A call ran past the invocation's time budget (`timeoutInSeconds`).
    #[error(
        "user code exceeded the time limit: the call did not return within the invocation's timeoutInSeconds ({seconds} s); look for a loop that does not end, or raise computeEngine.timeoutInSeconds"
    )]
    Timeout { seconds: u64 },
    /// The guest tried to grow its memory beyond `memoryLimitInMegabytes`.
    #[error(
        "user code exceeded the memory limit: it tried to grow its memory beyond memoryLimitInMegabytes ({megabytes} MB){detail}; reduce what it keeps in memory, or raise computeEngine.memoryLimitInMegabytes"
    )]
    MemoryLimit { megabytes: u64, detail: String },
    /// The guest trapped (a panic, an `unreachable`, an out-of-bounds access, …).
    #[error("user code failed: {0}")]
    Trap(String),
    /// A platform call made by the guest failed (for example reading the input file).
    #[error("{0}")]
    Host(String),
    /// The compiled-code cache could not be used.
    #[error("compiled code cache: {0}")]
    Cache(String),
}
