//! The `.difypkg` container: a plain zip written the way Go's `archive/zip` writes the
//! daemon's own packages (`packager.go::Pack`, `zipWriter.Create`).
//!
//! Entries are files only (no directory entries), with `/` paths, no file-mode bits
//! ("made by" MS-DOS, external attributes 0) and deflated; the archive comment carries
//! the signature. Written here rather than with a zip library so that every one of
//! those bytes is chosen on purpose, and so that the same sources always give the same
//! package bytes (fixed timestamps). No zip64: the daemon's 50 MiB limit keeps every
//! size far below 4 GiB.

use std::io::Write;

use flate2::Compression;
use flate2::write::DeflateEncoder;

use super::Error;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIR: u32 = 0x0605_4b50;
/// Version 2.0 (deflate), "made by" host 0 (MS-DOS): external attributes carry no mode.
const VERSION: u16 = 20;
const STORED: u16 = 0;
const DEFLATED: u16 = 8;
/// General-purpose flag bit 11: the name is UTF-8 (set only for non-ASCII names, as Go does).
const UTF8_NAME: u16 = 1 << 11;
/// 1980-01-01 00:00:00, the earliest DOS date: fixed, so builds are reproducible.
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = (1 << 5) | 1;

struct Entry {
    name: String,
    crc: u32,
    method: u16,
    compressed: u32,
    size: u32,
    offset: u32,
}

/// Builds a zip in memory, entry by entry, in the order given.
#[derive(Default)]
pub struct ZipWriter {
    out: Vec<u8>,
    entries: Vec<Entry>,
}

impl ZipWriter {
    pub fn new() -> ZipWriter {
        ZipWriter::default()
    }

    /// Adds a file; deflated unless that would not make it smaller.
    pub fn add(&mut self, name: &str, data: &[u8]) -> Result<(), Error> {
        if self.entries.len() >= usize::from(u16::MAX) {
            return Err(Error::Zip("too many files for a zip without zip64".into()));
        }
        let too_big = || Error::Zip(format!("{name} is too large for a zip without zip64"));
        let size = u32::try_from(data.len()).map_err(|_| too_big())?;
        let deflated =
            deflate(data).map_err(|e| Error::Zip(format!("cannot compress {name}: {e}")))?;
        let (method, body) = if deflated.len() < data.len() {
            (DEFLATED, deflated.as_slice())
        } else {
            (STORED, data)
        };
        let entry = Entry {
            name: name.to_string(),
            crc: crc32fast::hash(data),
            method,
            compressed: u32::try_from(body.len()).map_err(|_| too_big())?,
            size,
            offset: u32::try_from(self.out.len()).map_err(|_| too_big())?,
        };
        let name_len =
            u16::try_from(name.len()).map_err(|_| Error::Zip(format!("path too long: {name}")))?;
        let out = &mut self.out;
        put32(out, LOCAL_HEADER);
        put16(out, VERSION);
        put16(out, flags(name));
        put16(out, entry.method);
        put16(out, DOS_TIME);
        put16(out, DOS_DATE);
        put32(out, entry.crc);
        put32(out, entry.compressed);
        put32(out, entry.size);
        put16(out, name_len);
        put16(out, 0); // no extra field
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(body);
        self.entries.push(entry);
        Ok(())
    }

    /// Writes the central directory and the end record with `comment`; returns the zip.
    pub fn finish(mut self, comment: &str) -> Result<Vec<u8>, Error> {
        let comment_len =
            u16::try_from(comment.len()).map_err(|_| Error::Zip("zip comment too long".into()))?;
        let too_big = || Error::Zip("package too large for a zip without zip64".into());
        let start = u32::try_from(self.out.len()).map_err(|_| too_big())?;
        let out = &mut self.out;
        for e in &self.entries {
            put32(out, CENTRAL_HEADER);
            put16(out, VERSION); // made by: MS-DOS, 2.0
            put16(out, VERSION); // needed to extract
            put16(out, flags(&e.name));
            put16(out, e.method);
            put16(out, DOS_TIME);
            put16(out, DOS_DATE);
            put32(out, e.crc);
            put32(out, e.compressed);
            put32(out, e.size);
            put16(out, e.name.len() as u16); // checked in `add`
            put16(out, 0); // extra
            put16(out, 0); // file comment
            put16(out, 0); // disk number
            put16(out, 0); // internal attributes
            put32(out, 0); // external attributes: no mode bits
            put32(out, e.offset);
            out.extend_from_slice(e.name.as_bytes());
        }
        let end = u32::try_from(out.len()).map_err(|_| too_big())?;
        let count = self.entries.len() as u16; // checked in `add`
        put32(out, END_OF_CENTRAL_DIR);
        put16(out, 0); // this disk
        put16(out, 0); // disk of the central directory
        put16(out, count);
        put16(out, count);
        put32(out, end - start);
        put32(out, start);
        put16(out, comment_len);
        out.extend_from_slice(comment.as_bytes());
        Ok(self.out)
    }
}

fn flags(name: &str) -> u16 {
    if name.is_ascii() { 0 } else { UTF8_NAME }
}

fn deflate(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = DeflateEncoder::new(Vec::with_capacity(data.len() / 2), Compression::default());
    enc.write_all(data)?;
    enc.finish()
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_of_a_small_archive() {
        let mut z = ZipWriter::new();
        z.add("a.txt", b"hello").unwrap();
        z.add("d/b.txt", &[b'x'; 1000]).unwrap();
        let bytes = z.finish("{\"c\":1}").unwrap();
        // Local header of the first entry: stored (deflate would not shrink 5 bytes).
        assert_eq!(&bytes[0..4], &LOCAL_HEADER.to_le_bytes());
        assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), STORED);
        // The archive ends with the comment, preceded by its length.
        assert!(bytes.ends_with(b"\x07\x00{\"c\":1}"));
        let eocd = bytes.len() - 22 - 7;
        assert_eq!(&bytes[eocd..eocd + 4], &END_OF_CENTRAL_DIR.to_le_bytes());
        assert_eq!(u16::from_le_bytes([bytes[eocd + 10], bytes[eocd + 11]]), 2);
    }
}
