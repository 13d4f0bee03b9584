//! Declaration loading: the manifest, the provider YAML and the model YAMLs (templates,
//! positions, parameter rules) as the binary embeds them, with one file replaced (or one
//! model file added) by arbitrary text. Never a panic; a file that does not load is a
//! `DeclarationError` naming a file and what is wrong.
//!
//! Input: byte 0 chooses the file (past the last one: a new model file), the rest is
//! its text (`internals::load_declarations_fuzz_input` reads it).
#![no_main]

use dify_bedrock::internals;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Some(Err(e)) = internals::load_declarations_fuzz_input(bytes) {
        assert!(!e.file.is_empty(), "an error that names no file: {e:?}");
        assert!(!e.message.is_empty(), "an error that says nothing: {e:?}");
    }
});
