//! Just enough ELF reading to refuse a binary the package's machines cannot run: not a
//! 64-bit little-endian ELF file, or built for another machine (`e_machine`); and to
//! notice one that needs a dynamic loader, which the plugin's hosts may not have.

use std::fmt;

use super::Target;

/// How a binary is linked, as far as starting it on a bare host is concerned.
#[derive(Debug, PartialEq)]
pub(crate) enum Linkage {
    Static,
    /// It names a program interpreter (`PT_INTERP`): it runs only where its C library is.
    Dynamic,
}

/// Why a file is not a binary for the target.
#[derive(Debug, PartialEq)]
pub(crate) enum ElfError {
    NotElf64,
    /// The file ends inside the named part.
    Truncated(&'static str),
    WrongMachine {
        found: u16,
        target: Target,
    },
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::NotElf64 => f.write_str("not a 64-bit little-endian ELF executable"),
            ElfError::Truncated(part) => write!(f, "truncated {part}"),
            ElfError::WrongMachine { found, target } => write!(
                f,
                "built for ELF machine {found}, not {} ({})",
                target.elf_machine, target.arch
            ),
        }
    }
}

impl std::error::Error for ElfError {}

/// Checks the file is a 64-bit little-endian ELF executable for `target`'s machine and
/// says whether it asks for a dynamic loader.
pub(crate) fn check_elf(data: &[u8], target: &Target) -> Result<Linkage, ElfError> {
    const HEADER: ElfError = ElfError::Truncated("ELF header");
    // Checked offsets: the header's numbers come from the file, and may be anything.
    let bytes = |o: usize, n: usize| o.checked_add(n).and_then(|end| data.get(o..end));
    let u16_at = |o: usize| bytes(o, 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| bytes(o, 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let u64_at = |o: usize| {
        bytes(o, 8).map(|b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_le_bytes(a)
        })
    };
    if data.get(..4) != Some(b"\x7fELF".as_slice())
        || data.get(4) != Some(&2)
        || data.get(5) != Some(&1)
    {
        return Err(ElfError::NotElf64);
    }
    let machine = u16_at(18).ok_or(HEADER)?;
    if machine != target.elf_machine {
        return Err(ElfError::WrongMachine {
            found: machine,
            target: *target,
        });
    }
    let phoff = usize::try_from(u64_at(32).ok_or(HEADER)?).unwrap_or(usize::MAX);
    let phentsize = usize::from(u16_at(54).ok_or(HEADER)?);
    let phnum = usize::from(u16_at(56).ok_or(HEADER)?);
    const PT_INTERP: u32 = 3;
    for i in 0..phnum {
        let p_type = i
            .checked_mul(phentsize)
            .and_then(|o| o.checked_add(phoff))
            .and_then(u32_at)
            .ok_or(ElfError::Truncated("ELF program headers"))?;
        if p_type == PT_INTERP {
            return Ok(Linkage::Dynamic);
        }
    }
    Ok(Linkage::Static)
}

#[cfg(test)]
mod tests {
    use super::super::TARGETS;
    use super::*;

    #[test]
    fn elf_checks() {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[18] = 62;
        assert_eq!(check_elf(&h, &TARGETS[0]), Ok(Linkage::Static));
        assert_eq!(
            check_elf(&h, &TARGETS[1]).map_err(|e| e.to_string()),
            Err("built for ELF machine 62, not 183 (aarch64)".into())
        );
        assert_eq!(
            check_elf(b"#!/bin/sh", &TARGETS[0]),
            Err(ElfError::NotElf64)
        );
        // A program header table past the end of the file.
        h[56] = 1;
        h[32] = 200;
        assert_eq!(
            check_elf(&h, &TARGETS[0]),
            Err(ElfError::Truncated("ELF program headers"))
        );
        // Offsets that would overflow are truncation too, not a panic.
        h[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(
            check_elf(&h, &TARGETS[0]),
            Err(ElfError::Truncated("ELF program headers"))
        );
    }
}
