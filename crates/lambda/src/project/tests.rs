use super::tests_support::{tar_gz_of, zip_of};
use super::*;

#[test]
fn a_project_packed_in_its_own_directory_is_found_and_built_once() {
    let home = tempfile::tempdir().expect("tempdir");
    let builds = Builds::new(home.path());
    let archive = zip_of(&[
        (
            "parser/letsdata_lambda_function.py",
            "def lambda_handler(e, c):\n    return e\n",
        ),
        ("parser/lib/util.py", "X = 1\n"),
        ("parser/requirements.txt", "# nothing to install\n"),
        ("__MACOSX/parser/._x", "resource fork"),
    ]);
    let built = builds
        .build(Language::Python, "abc", &archive, ArchiveFormat::Zip)
        .expect("built");
    assert!(
        built.app_dir.ends_with("project/parser"),
        "{:?}",
        built.app_dir
    );
    assert!(built.app_dir.join("lib/util.py").is_file());
    assert!(built.python_deps.is_none());
    assert!(built.note.contains("4 files unpacked"), "{}", built.note);
    assert!(built.bootstrap.is_file());
    // The second build is the first one.
    let again = builds
        .build(
            Language::Python,
            "abc",
            b"not even an archive",
            ArchiveFormat::Zip,
        )
        .expect("cached");
    assert_eq!(again.app_dir, built.app_dir);
}

#[test]
fn a_javascript_project_at_the_top_of_a_tar_gz_is_found() {
    let home = tempfile::tempdir().expect("tempdir");
    let archive = tar_gz_of(&[
        ("./index.js", "export const handler = async (e) => e;\n"),
        ("./package.json", "{\"type\": \"module\"}"),
    ]);
    let built = Builds::new(home.path())
        .build(Language::Javascript, "def", &archive, ArchiveFormat::TarGz)
        .expect("built");
    assert!(built.app_dir.join("index.js").is_file());
    assert!(built.app_dir.ends_with("project"), "{:?}", built.app_dir);
}

#[test]
fn archives_that_leave_themselves_or_hold_no_handler_are_refused_and_leave_nothing() {
    let home = tempfile::tempdir().expect("tempdir");
    let builds = Builds::new(home.path());
    let no_handler = zip_of(&[("a/handler.py", ""), ("b/other.py", "")]);
    let e = builds
        .build(Language::Python, "h1", &no_handler, ArchiveFormat::Zip)
        .expect_err("no handler");
    assert!(
        e.to_string()
            .contains("has no letsdata_lambda_function.py at its top"),
        "{e}"
    );
    let js = zip_of(&[("letsdata_lambda_function.py", "")]);
    let e = builds
        .build(Language::Javascript, "h2", &js, ArchiveFormat::Zip)
        .expect_err("no index.js");
    assert!(
        e.to_string().contains("index.js or index.mjs or index.cjs"),
        "{e}"
    );

    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    let mut raw = Vec::new();
    {
        let gz = flate2::write::GzEncoder::new(&mut raw, flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        // `append_data` refuses `..`; write the name into the header by hand.
        let name = b"../escape.py";
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_cksum();
        b.append(&h, &b"x"[..]).expect("append");
        b.into_inner().expect("tar").finish().expect("gz");
    }
    let e = builds
        .build(Language::Python, "h3", &raw, ArchiveFormat::TarGz)
        .expect_err("escapes");
    assert!(e.to_string().contains("names a path outside itself"), "{e}");
    assert!(!home.path().join("handlers/escape.py").exists());

    let mut link = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut lh = tar::Header::new_gnu();
    lh.set_entry_type(tar::EntryType::Symlink);
    lh.set_size(0);
    link.append_link(&mut lh, "letsdata_lambda_function.py", "/etc/passwd")
        .expect("link");
    let link = link.into_inner().expect("tar").finish().expect("gz");
    let e = builds
        .build(Language::Python, "h4", &link, ArchiveFormat::TarGz)
        .expect_err("link");
    assert!(e.to_string().contains("not a file or a directory"), "{e}");

    let e = builds
        .build(
            Language::Python,
            "h5",
            b"PK\x03\x04garbage",
            ArchiveFormat::Zip,
        )
        .expect_err("garbage");
    assert!(e.to_string().contains("is not a valid .zip"), "{e}");
    // Nothing half-built is left behind.
    let left: Vec<_> = std::fs::read_dir(home.path().join("handlers"))
        .expect("handlers dir")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
