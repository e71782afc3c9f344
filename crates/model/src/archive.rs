//! The archive formats a Python or JavaScript implementation is packed in: the user's project
//! directory as a `.zip`, or a gzip-compressed tar (`.tar.gz`, `.tgz`).

/// How a project archive is packed, told by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    Zip,
    TarGz,
}

impl ArchiveFormat {
    /// The format of the archive named `key` (case-insensitive extension), if it is one.
    pub fn of(key: &str) -> Option<Self> {
        let lower = key.to_ascii_lowercase();
        if lower.ends_with(".zip") {
            Some(Self::Zip)
        } else if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
            Some(Self::TarGz)
        } else {
            None
        }
    }

    /// The extension the internal copy is stored with.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Zip => "zip",
            Self::TarGz => "tar.gz",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_the_extension() {
        assert_eq!(
            ArchiveFormat::of("code/parser.zip"),
            Some(ArchiveFormat::Zip)
        );
        assert_eq!(ArchiveFormat::of("parser.ZIP"), Some(ArchiveFormat::Zip));
        assert_eq!(ArchiveFormat::of("a/b.tar.gz"), Some(ArchiveFormat::TarGz));
        assert_eq!(ArchiveFormat::of("b.tgz"), Some(ArchiveFormat::TarGz));
        assert_eq!(ArchiveFormat::of("b.tar"), None);
        assert_eq!(ArchiveFormat::of("b.wasm"), None);
        assert_eq!(ArchiveFormat::of("b.gz"), None);
    }
}
