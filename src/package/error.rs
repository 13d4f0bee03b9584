//! Why `dify-bedrock package` could not build the package. Each variant's `Display` is the
//! message the user reads after `dify-bedrock package: error: `, so it says what to fix.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::Target;
use super::elf::ElfError;
use super::sign::KeyError;

/// A failure of one of the package steps.
#[derive(Debug)]
pub(crate) enum Error {
    /// A file or directory could not be read, created or written.
    Io {
        action: Action,
        path: PathBuf,
        source: io::Error,
    },
    /// No `--root`, and no checkout above the binary or the working directory.
    NoCheckout {
        exe: Option<PathBuf>,
        cwd: Option<PathBuf>,
    },
    /// The manifest's version is not the crate's, which names the package.
    Version { manifest: String },
    /// The checkout holds something the daemon would refuse: a manifest or declaration
    /// that does not load, a missing icon, a path the daemon cannot extract.
    Plugin(String),
    /// A target's binary is not there (an error unless `--allow-missing`).
    MissingBinary {
        target: Target,
        path: PathBuf,
        source: io::Error,
    },
    /// Not one binary to ship.
    NoBinary,
    /// A binary that the machines it is shipped for cannot run.
    Elf { path: PathBuf, source: ElfError },
    /// Over the daemon's limit on the total uncompressed size.
    TooLarge {
        total: u64,
        max: u64,
        /// The largest files, by package path and size, largest first.
        largest: Vec<(String, u64)>,
    },
    /// Over the daemon's limit on the uploaded file.
    FileTooLarge { size: u64, max: u64 },
    /// The signing key cannot be used.
    Key { path: PathBuf, source: KeyError },
    /// ring refused to sign with a key it had accepted.
    Signing,
    /// The files do not fit a zip without zip64.
    Zip(String),
}

/// What was being done to a file when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Read,
    ReadKey,
    Create,
    Write,
}

impl Error {
    /// An `Io` error, for `map_err`.
    pub(crate) fn io(action: Action, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io {
                action,
                path,
                source,
            } => {
                let doing = match action {
                    Action::Read => "read",
                    Action::ReadKey => "read the key",
                    Action::Create => "create",
                    Action::Write => "write",
                };
                write!(f, "cannot {doing} {}: {source}", path.display())
            }
            Error::NoCheckout { exe, cwd } => write!(
                f,
                "cannot find the repository checkout (a directory with manifest.yaml and packaging/main.py) above {} or {}; pass --root DIR",
                exe.as_deref()
                    .map_or("this binary".into(), |p| p.display().to_string()),
                cwd.as_deref()
                    .map_or("the current directory".into(), |p| p.display().to_string()),
            ),
            Error::Version { manifest } => write!(
                f,
                "manifest.yaml says version {manifest} but Cargo.toml says {}; make them agree",
                env!("CARGO_PKG_VERSION")
            ),
            Error::Plugin(message) | Error::Zip(message) => f.write_str(message),
            Error::MissingBinary {
                target,
                path,
                source,
            } => write!(
                f,
                "no {} binary at {} ({source}); build it with packaging/build-binaries.sh",
                target.arch,
                path.display()
            ),
            Error::NoBinary => {
                f.write_str("no binary to ship; build them with packaging/build-binaries.sh")
            }
            Error::Elf { path, source } => write!(f, "{}: {source}", path.display()),
            Error::TooLarge {
                total,
                max,
                largest,
            } => {
                write!(
                    f,
                    "the package would be {total} bytes uncompressed, over the limit of {max} bytes; largest files:"
                )?;
                for (path, size) in largest {
                    write!(f, "\n  {path} ({size} bytes)")?;
                }
                Ok(())
            }
            Error::FileTooLarge { size, max } => write!(
                f,
                "the package file is {size} bytes, over the upload limit of {max} bytes"
            ),
            Error::Key { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Signing => f.write_str("RSA signing failed"),
        }
    }
}

// The causes are part of the messages above (the text the user reads), so `source` stays
// empty: a reporter walking the chain would print them twice.
impl std::error::Error for Error {}
