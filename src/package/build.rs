//! Building the package, in four steps: collect the files → check them → sign → write the
//! zip. Each step only starts on what the previous one accepted, so a refused package
//! leaves nothing behind in the output directory.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::checks::{Checked, check};
use super::collect::{Collected, Entry, collect};
use super::error::{Action, Error};
use super::sign::{self, Signer};
use super::zip::ZipWriter;
use super::{PackageArgs, Report};
use crate::declaration::Manifest;

/// Builds the package `opts` asks for; `warnings` gets what the user should know even
/// when it works (and, on failure, often why).
pub(super) fn build(opts: &PackageArgs, warnings: &mut Vec<String>) -> Result<Report, Error> {
    let Collected {
        root,
        manifest,
        files,
        binaries,
    } = collect(opts, warnings)?;
    let Checked {
        mut entries,
        shipped,
    } = check(files, binaries, opts, warnings)?;
    let signature = sign_entries(&mut entries, opts)?;
    let (path, compressed) = write(&entries, signature.as_ref(), &root, &manifest, opts)?;
    Ok(Report {
        path,
        identity: format!(
            "{}/{}:{}@{}",
            manifest.author,
            manifest.name,
            manifest.version,
            checksum(&entries)
        ),
        files: entries.len(),
        uncompressed: entries.iter().map(|e| e.data.len() as u64).sum(),
        compressed,
        max_size: opts.max_size,
        shipped,
        signed: signature.is_some(),
    })
}

/// A signature made by the sign step.
struct Signature {
    /// The zip comment that carries it.
    comment: String,
    /// The matching public key, for `--public-key-out`.
    public_key_pem: String,
}

/// With `--sign`, adds the verification file last (as the dify CLI's signer does: its
/// hash is part of the signed data) and signs every entry in archive order. It comes
/// after the checks because the signature covers the final entries in their final order.
fn sign_entries(entries: &mut Vec<Entry>, opts: &PackageArgs) -> Result<Option<Signature>, Error> {
    let Some(key_path) = &opts.sign else {
        return Ok(None);
    };
    let text = fs::read_to_string(key_path).map_err(Error::io(Action::ReadKey, key_path))?;
    let signer = Signer::from_pem(&text).map_err(|source| Error::Key {
        path: key_path.clone(),
        source,
    })?;
    entries.push(Entry {
        path: sign::VERIFICATION_FILE.to_string(),
        data: sign::verification_json(&opts.category).into_bytes(),
    });
    let time = signing_time();
    let digests: Vec<[u8; 32]> = entries
        .iter()
        .map(|e| Sha256::digest(&e.data).into())
        .collect();
    let signature = signer.sign(&sign::signed_data(&digests, time))?;
    Ok(Some(Signature {
        comment: sign::comment(&signature, time),
        public_key_pem: signer.public_key_pem(),
    }))
}

/// Zips the entries in their order and writes `<out>/<name>-<version>.difypkg` (and the
/// public key, if asked). The upload limit is on the zipped file, so it is checked here,
/// once that size is known. Returns the package's path and size.
fn write(
    entries: &[Entry],
    signature: Option<&Signature>,
    root: &Path,
    manifest: &Manifest,
    opts: &PackageArgs,
) -> Result<(PathBuf, u64), Error> {
    let mut zip = ZipWriter::new();
    for e in entries {
        zip.add(&e.path, &e.data)?;
    }
    let bytes = zip.finish(signature.map_or("", |s| s.comment.as_str()))?;
    let size = bytes.len() as u64;
    if size > opts.max_size {
        return Err(Error::FileTooLarge {
            size,
            max: opts.max_size,
        });
    }

    let out_dir = opts.out.clone().unwrap_or_else(|| root.join("dist"));
    fs::create_dir_all(&out_dir).map_err(Error::io(Action::Create, &out_dir))?;
    let path = out_dir.join(format!("{}-{}.difypkg", manifest.name, manifest.version));
    write_atomically(&path, &bytes)?;
    if let (Some(s), Some(p)) = (signature, &opts.public_key_out) {
        write_atomically(p, s.public_key_pem.as_bytes())?;
    }
    Ok((path, size))
}

/// The daemon's package checksum (`decoder/checksum.go`), part of the installed
/// plugin's identity and working directory name.
fn checksum(entries: &[Entry]) -> String {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut h = Sha256::new();
    for e in sorted {
        h.update(Sha256::digest(e.path.as_bytes()));
        h.update(Sha256::digest(&e.data));
    }
    h.finalize().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The signature time: `SOURCE_DATE_EPOCH` for reproducible builds, else now.
fn signing_time() -> i64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        })
}

/// Writes beside the target and renames, so a reader never sees half a package.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = path.with_extension("partial");
    fs::write(&tmp, bytes)
        .and_then(|()| fs::rename(&tmp, path))
        .map_err(Error::io(Action::Write, path))
}
