//! Unpacking a user's archive (a project's `.zip` or `.tar.gz`, a model's `model.tar.gz`)
//! into a directory: regular files and directories only, every path kept inside the
//! directory, within limits on entries and bytes.

use letsdata_model::archive::ArchiveFormat;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// The most an archive may unpack to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Files and directories.
    pub entries: usize,
    /// Bytes of all files together.
    pub bytes: u64,
}

/// Why an archive could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The archive is wrong (its owner fixes it): the message starts with the archive's noun.
    #[error("{0}")]
    Invalid(String),
    /// This machine's disk failed.
    #[error("{0}")]
    Machine(String),
}

fn machine(path: &Path) -> impl Fn(std::io::Error) -> ArchiveError + '_ {
    move |e| ArchiveError::Machine(format!("{}: {e}", path.display()))
}

/// A path inside the archive, as a relative path that stays inside it.
pub(crate) fn safe_relative(name: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in name.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Unpacks regular files and directories (links are refused); returns how many files.
pub fn unpack(
    archive: &[u8],
    format: ArchiveFormat,
    into: &Path,
    limits: Limits,
    noun: &str,
) -> Result<usize, ArchiveError> {
    let bad = |why: String| ArchiveError::Invalid(format!("{noun} {why}"));
    let mut files = 0usize;
    let mut total = 0u64;
    let mut write = |rel: &Path, reader: &mut dyn Read, size: u64| -> Result<(), ArchiveError> {
        files += 1;
        total += size;
        if files > limits.entries || total > limits.bytes {
            return Err(bad(format!(
                "holds more than {} files or {} MB",
                limits.entries,
                limits.bytes >> 20
            )));
        }
        let path = into.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(machine(parent))?;
        }
        let mut f = std::fs::File::create(&path).map_err(machine(&path))?;
        let copied = std::io::copy(&mut reader.take(size.saturating_add(1)), &mut f)
            .map_err(|e| bad(format!("cannot be read at {}: {e}", rel.display())))?;
        if copied > size {
            return Err(bad(format!(
                "entry {} is longer than it says",
                rel.display()
            )));
        }
        Ok(())
    };
    match format {
        ArchiveFormat::Zip => {
            let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive))
                .map_err(|e| bad(format!("is not a valid .zip: {e}")))?;
            for i in 0..zip.len() {
                let mut entry = zip
                    .by_index(i)
                    .map_err(|e| bad(format!("is not a valid .zip: {e}")))?;
                let name = entry.name().to_string();
                let Some(rel) = entry.enclosed_name().and_then(|p| safe_relative(&p)) else {
                    return Err(bad(format!("names a path outside itself: {name:?}")));
                };
                if entry.is_symlink() {
                    return Err(bad(format!(
                        "holds a symbolic link ({name}); pack the files it points to instead"
                    )));
                }
                if entry.is_dir() {
                    let path = into.join(&rel);
                    std::fs::create_dir_all(&path).map_err(machine(&path))?;
                    continue;
                }
                let size = entry.size();
                write(&rel, &mut entry, size)?;
            }
        }
        ArchiveFormat::TarGz => {
            let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
            let entries = tar
                .entries()
                .map_err(|e| bad(format!("is not a valid .tar.gz: {e}")))?;
            for entry in entries {
                let mut entry = entry.map_err(|e| bad(format!("is not a valid .tar.gz: {e}")))?;
                let name = entry
                    .path()
                    .map_err(|e| bad(format!("has an unreadable path: {e}")))?
                    .to_path_buf();
                let kind = entry.header().entry_type();
                if kind.is_pax_global_extensions()
                    || kind.is_pax_local_extensions()
                    || kind.is_gnu_longname()
                    || kind.is_gnu_longlink()
                {
                    continue;
                }
                let Some(rel) = safe_relative(&name) else {
                    if name.components().all(|c| matches!(c, Component::CurDir)) {
                        continue;
                    }
                    return Err(bad(format!(
                        "names a path outside itself: {}",
                        name.display()
                    )));
                };
                if kind.is_dir() {
                    let path = into.join(&rel);
                    std::fs::create_dir_all(&path).map_err(machine(&path))?;
                } else if kind.is_file() {
                    let size = entry.size();
                    write(&rel, &mut entry, size)?;
                } else {
                    return Err(bad(format!(
                        "holds {} which is not a file or a directory (a link?); pack the files themselves",
                        name.display()
                    )));
                }
            }
        }
    }
    if files == 0 {
        return Err(bad("holds no files".into()));
    }
    Ok(files)
}
