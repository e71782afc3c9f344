//! Builds a Python or JavaScript project: unpack, find the handler, install dependencies.

use crate::archive;
use letsdata_model::archive::ArchiveFormat;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// Largest unpacked project (files and dependencies installed by the build do not count).
const MAX_UNPACKED_BYTES: u64 = 1024 * 1024 * 1024;
/// Most entries an archive may hold.
const MAX_ENTRIES: usize = 100_000;
/// How long installing dependencies may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(900);
/// How much of an installer's output a failure reports.
const OUTPUT_TAIL: usize = 4000;

const PYTHON_BOOTSTRAP: &str = include_str!("bootstrap.py");
const NODE_BOOTSTRAP: &str = include_str!("bootstrap.mjs");

/// The language of a handler project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    Python,
    Javascript,
}

impl Language {
    /// The handler LetsData's container images run (`_HANDLER`).
    pub fn handler(self) -> &'static str {
        match self {
            Self::Python => "letsdata_lambda_function.lambda_handler",
            Self::Javascript => "index.handler",
        }
    }

    /// The files one of which marks the project's top directory.
    fn entry_files(self) -> &'static [&'static str] {
        match self {
            Self::Python => &["letsdata_lambda_function.py"],
            Self::Javascript => &["index.js", "index.mjs", "index.cjs"],
        }
    }

    /// The interpreter: `LETSDATA_PYTHON` / `LETSDATA_NODE`, else `python3` / `node`.
    pub fn interpreter(self) -> PathBuf {
        let (var, default) = match self {
            Self::Python => ("LETSDATA_PYTHON", "python3"),
            Self::Javascript => ("LETSDATA_NODE", "node"),
        };
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(default))
    }

    fn name(self) -> &'static str {
        match self {
            Self::Python => "Python",
            Self::Javascript => "Javascript",
        }
    }
}

/// Why a project could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The project is wrong (the user fixes it): a bad archive, no handler, failed installs.
    #[error("{0}")]
    Project(String),
    /// This machine lacks something (an interpreter), or its disk failed.
    #[error("{0}")]
    Machine(String),
}

/// A built code version: where its files are.
#[derive(Debug, Clone)]
pub struct Built {
    pub language: Language,
    /// The project's top directory (`LAMBDA_TASK_ROOT`).
    pub app_dir: PathBuf,
    /// Python packages installed from `requirements.txt` (on the module path after the
    /// project), if it has any.
    pub python_deps: Option<PathBuf>,
    /// The bootstrap the interpreter runs.
    pub bootstrap: PathBuf,
    /// What the build did, for the step's message.
    pub note: String,
}

/// Where builds live: `<cache>/handlers/<sha256>` for code versions, `<cache>/python-deps/<key>`
/// and `<cache>/node-deps/<key>` for dependencies, `<cache>/bootstrap` for the bootstraps.
#[derive(Debug, Clone)]
pub struct Builds {
    root: PathBuf,
}

impl Builds {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn code_dir(&self, sha256: &str) -> PathBuf {
        self.root.join("handlers").join(sha256)
    }

    /// The build of code version `sha256`, if this machine has it.
    pub fn existing(&self, language: Language, sha256: &str) -> Option<Built> {
        let dir = self.code_dir(sha256);
        let marker = std::fs::read_to_string(dir.join("built.json")).ok()?;
        let info: serde_json::Value = serde_json::from_str(&marker).ok()?;
        let app_dir = dir.join(info.get("app")?.as_str()?);
        let python_deps = info
            .get("pythonDeps")
            .and_then(|v| v.as_str())
            .map(PathBuf::from);
        let bootstrap = self.bootstrap(language).ok()?;
        Some(Built {
            language,
            app_dir,
            python_deps,
            bootstrap,
            note: "built before".into(),
        })
    }

    /// Writes the bootstrap of `language` (named by its content hash) and returns its path.
    fn bootstrap(&self, language: Language) -> Result<PathBuf, BuildError> {
        let (text, ext) = match language {
            Language::Python => (PYTHON_BOOTSTRAP, "py"),
            Language::Javascript => (NODE_BOOTSTRAP, "mjs"),
        };
        let dir = self.root.join("bootstrap");
        let path = dir.join(format!("{}.{ext}", &sha256_hex(text.as_bytes())[..16]));
        if !path.exists() {
            std::fs::create_dir_all(&dir).map_err(machine(&dir))?;
            let tmp = dir.join(format!(".{}.tmp", std::process::id()));
            std::fs::write(&tmp, text)
                .and_then(|()| std::fs::rename(&tmp, &path))
                .map_err(machine(&path))?;
        }
        Ok(path)
    }

    /// Builds code version `sha256` from its archive (once; later calls return the build).
    /// Blocking: run it on a blocking thread.
    pub fn build(
        &self,
        language: Language,
        sha256: &str,
        archive: &[u8],
        format: ArchiveFormat,
    ) -> Result<Built, BuildError> {
        if let Some(b) = self.existing(language, sha256) {
            return Ok(b);
        }
        check_interpreter(language)?;
        let bootstrap = self.bootstrap(language)?;
        let dir = self.code_dir(sha256);
        let parent = dir.parent().expect("handlers dir");
        std::fs::create_dir_all(parent).map_err(machine(parent))?;
        let tmp = parent.join(format!(".{sha256}.{}.tmp", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let unpacked = tmp.join("project");
        std::fs::create_dir_all(&unpacked).map_err(machine(&unpacked))?;
        let result = (|| {
            let files = archive::unpack(
                archive,
                format,
                &unpacked,
                archive::Limits {
                    entries: MAX_ENTRIES,
                    bytes: MAX_UNPACKED_BYTES,
                },
                "the project archive",
            )
            .map_err(|e| match e {
                archive::ArchiveError::Invalid(m) => BuildError::Project(m),
                archive::ArchiveError::Machine(m) => BuildError::Machine(m),
            })?;
            let app = project_root(language, &unpacked)?;
            let mut notes = vec![format!("{files} files unpacked")];
            let mut python_deps = None;
            match language {
                Language::Python => {
                    if let Some((deps, note)) = self.python_deps(&app)? {
                        python_deps = Some(deps);
                        notes.push(note);
                    }
                }
                Language::Javascript => {
                    if let Some(note) = self.node_deps(&app)? {
                        notes.push(note);
                    }
                }
            }
            let rel = app
                .strip_prefix(&tmp)
                .expect("the project is inside the build directory")
                .to_path_buf();
            let info = serde_json::json!({
                "app": rel.to_string_lossy(),
                "pythonDeps": python_deps.as_ref().map(|p: &PathBuf| p.to_string_lossy().to_string()),
            });
            std::fs::write(tmp.join("built.json"), info.to_string()).map_err(machine(&tmp))?;
            Ok(notes.join("; "))
        })();
        let note = match result {
            Ok(note) => note,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(e);
            }
        };
        if let Err(e) = std::fs::rename(&tmp, &dir) {
            let _ = std::fs::remove_dir_all(&tmp);
            // Another process built it meanwhile.
            if let Some(b) = self.existing(language, sha256) {
                return Ok(b);
            }
            return Err(machine(&dir)(e));
        }
        let mut built = self
            .existing(language, sha256)
            .ok_or_else(|| BuildError::Machine(format!("{} vanished", dir.display())))?;
        built.bootstrap = bootstrap;
        built.note = note;
        Ok(built)
    }

    /// Installs `requirements.txt` into a shared directory keyed by its content and the
    /// interpreter's version. `None` when the project has no requirements.
    fn python_deps(&self, app: &Path) -> Result<Option<(PathBuf, String)>, BuildError> {
        let path = app.join("requirements.txt");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(None);
        };
        if !text
            .lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        {
            return Ok(None);
        }
        let python = Language::Python.interpreter();
        let version = version_of(&python, &["--version"])?;
        let key = sha256_hex(format!("{version}\n{text}").as_bytes());
        let target = self.root.join("python-deps").join(&key[..32]);
        if target.join(".complete").exists() {
            return Ok(Some((
                target,
                "requirements.txt: installed packages reused".into(),
            )));
        }
        let tmp = target.with_extension(format!("{}.tmp", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(machine(&tmp))?;
        let started = std::time::Instant::now();
        let mut cmd = std::process::Command::new(&python);
        cmd.args([
            "-m",
            "pip",
            "install",
            "--no-input",
            "--disable-pip-version-check",
            "--no-warn-script-location",
            "--target",
        ])
        .arg(&tmp)
        .arg("-r")
        .arg(&path)
        .current_dir(app);
        install_into(cmd, "pip install -r requirements.txt", &tmp, &target)?;
        Ok(Some((
            target,
            format!(
                "requirements.txt installed in {} s",
                started.elapsed().as_secs()
            ),
        )))
    }

    /// Installs `package.json`'s dependencies into a shared directory keyed by it (and its
    /// lock file) and links the project's `node_modules` to it. `None` when there is nothing
    /// to install (no package.json, no dependencies, or the project brings node_modules).
    fn node_deps(&self, app: &Path) -> Result<Option<String>, BuildError> {
        let Ok(package) = std::fs::read(app.join("package.json")) else {
            return Ok(None);
        };
        if app.join("node_modules").exists() {
            return Ok(Some("node_modules packed with the project".into()));
        }
        let parsed: serde_json::Value = serde_json::from_slice(&package)
            .map_err(|e| BuildError::Project(format!("package.json is not valid JSON: {e}")))?;
        let has_deps = parsed
            .get("dependencies")
            .and_then(|d| d.as_object())
            .is_some_and(|d| !d.is_empty());
        if !has_deps {
            return Ok(None);
        }
        let lock = std::fs::read(app.join("package-lock.json")).ok();
        let node = Language::Javascript.interpreter();
        let version = version_of(&node, &["--version"])?;
        let mut h = Sha256::new();
        h.update(version.as_bytes());
        h.update(b"\n");
        h.update(&package);
        if let Some(l) = &lock {
            h.update(b"\n");
            h.update(l);
        }
        let key = hex::encode(h.finalize());
        let target = self.root.join("node-deps").join(&key[..32]);
        let mut note = "package.json: installed packages reused".to_string();
        if !target.join(".complete").exists() {
            let tmp = target.with_extension(format!("{}.tmp", std::process::id()));
            let _ = std::fs::remove_dir_all(&tmp);
            std::fs::create_dir_all(&tmp).map_err(machine(&tmp))?;
            std::fs::write(tmp.join("package.json"), &package).map_err(machine(&tmp))?;
            if let Some(l) = &lock {
                std::fs::write(tmp.join("package-lock.json"), l).map_err(machine(&tmp))?;
            }
            let started = std::time::Instant::now();
            let npm = std::env::var_os("LETSDATA_NPM")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("npm"));
            let mut cmd = std::process::Command::new(&npm);
            cmd.args([
                if lock.is_some() { "ci" } else { "install" },
                "--omit=dev",
                "--no-audit",
                "--no-fund",
                "--no-update-notifier",
            ])
            .current_dir(&tmp);
            install_into(cmd, "npm install", &tmp, &target)?;
            note = format!(
                "package.json installed in {} s",
                started.elapsed().as_secs()
            );
        }
        link_dir(&target.join("node_modules"), &app.join("node_modules"))?;
        Ok(Some(note))
    }
}

#[cfg(unix)]
fn link_dir(target: &Path, link: &Path) -> Result<(), BuildError> {
    std::os::unix::fs::symlink(target, link).map_err(machine(link))
}

#[cfg(not(unix))]
fn link_dir(_target: &Path, link: &Path) -> Result<(), BuildError> {
    Err(BuildError::Machine(format!(
        "{}: JavaScript dependencies need a Unix machine",
        link.display()
    )))
}

/// The sha256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn machine(path: &Path) -> impl Fn(std::io::Error) -> BuildError + '_ {
    move |e| BuildError::Machine(format!("{}: {e}", path.display()))
}

/// Checks that the interpreter runs, with a message saying how to get it.
fn check_interpreter(language: Language) -> Result<(), BuildError> {
    version_of(&language.interpreter(), &["--version"]).map(|_| ())
}

fn version_of(program: &Path, args: &[&str]) -> Result<String, BuildError> {
    let out = std::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout).trim().to_string();
            Ok(if text.is_empty() {
                String::from_utf8_lossy(&o.stderr).trim().to_string()
            } else {
                text
            })
        }
        Ok(o) => Err(BuildError::Machine(format!(
            "{} {} failed ({}): {}",
            program.display(),
            args.join(" "),
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ))),
        Err(e) => {
            let (what, var) = if program.to_string_lossy().contains("node") {
                (
                    "Javascript implementations need Node.js (18 or later)",
                    "LETSDATA_NODE",
                )
            } else if program.to_string_lossy().contains("npm") {
                ("Javascript dependencies need npm", "LETSDATA_NPM")
            } else {
                (
                    "Python implementations need Python (3.9 or later)",
                    "LETSDATA_PYTHON",
                )
            };
            Err(BuildError::Machine(format!(
                "{what} on every worker: {} cannot be run ({e}); install it, or set {var} to its path",
                program.display()
            )))
        }
    }
}

/// Runs an installer, failing with the tail of its output.
/// Runs `cmd`, an installer writing into `tmp`, then marks `tmp` complete and moves it to
/// `target` (a builder that got there first keeps its copy); `tmp` goes if anything fails.
fn install_into(
    cmd: std::process::Command,
    what: &str,
    tmp: &Path,
    target: &Path,
) -> Result<(), BuildError> {
    if let Err(e) = run_installer(cmd, what) {
        let _ = std::fs::remove_dir_all(tmp);
        return Err(e);
    }
    std::fs::write(tmp.join(".complete"), b"").map_err(machine(tmp))?;
    if std::fs::rename(tmp, target).is_err() {
        let _ = std::fs::remove_dir_all(tmp);
    }
    Ok(())
}

fn run_installer(mut cmd: std::process::Command, what: &str) -> Result<(), BuildError> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| BuildError::Machine(format!("{what} could not start: {e}")))?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > INSTALL_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(BuildError::Project(format!(
                    "{what} took more than {} minutes; it was stopped",
                    INSTALL_TIMEOUT.as_secs() / 60
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(BuildError::Machine(format!("{what}: {e}"))),
        }
    };
    let mut output = out.join().unwrap_or_default();
    output.extend(err.join().unwrap_or_default());
    if status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&output);
    let text = text.trim();
    let tail = match text.char_indices().rev().nth(OUTPUT_TAIL) {
        Some((i, _)) => &text[i..],
        None => text,
    };
    Err(BuildError::Project(format!(
        "{what} failed ({status}); fix the project's dependencies and update its code. Output: {tail}"
    )))
}

/// The project's top directory: where the handler's module is, at the top of the archive or
/// in its one top-level directory.
fn project_root(language: Language, unpacked: &Path) -> Result<PathBuf, BuildError> {
    let has_entry = |dir: &Path| language.entry_files().iter().any(|f| dir.join(f).is_file());
    if has_entry(unpacked) {
        return Ok(unpacked.to_path_buf());
    }
    let dirs: Vec<PathBuf> = std::fs::read_dir(unpacked)
        .map_err(machine(unpacked))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.file_name().is_none_or(|n| n != "__MACOSX"))
        .collect();
    if let [only] = dirs.as_slice()
        && has_entry(only)
    {
        return Ok(only.clone());
    }
    Err(BuildError::Project(format!(
        "the archive has no {} at its top (or in its one top-level directory): pack the {} project directory itself, the one LetsData's dockerfile copies",
        language.entry_files().join(" or "),
        language.name()
    )))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod tests_support;
