//! The command line through the built binary: usage errors exit 2 and name what was
//! wrong, `--help` of each command lists its options, `--version` says which build it is.
//! (What `package`, `check` and `models` do is tested in package.rs, validate.rs and
//! models_command.rs.)

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_dify-bedrock");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        // No settings from a .env file in the working directory, no AWS look-ups.
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run dify-bedrock")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a command line that must be refused as bad usage; returns its stderr.
fn usage_error(args: &[&str]) -> String {
    let o = run(args);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(o.stdout.is_empty(), "{args:?} printed: {}", text(&o.stdout));
    err
}

/// Runs `args`, which must print help; returns it.
fn help(args: &[&str]) -> String {
    let o = run(args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o.stderr));
    text(&o.stdout)
}

const PACKAGE_OPTIONS: [&str; 10] = [
    "--root <DIR>",
    "--out <DIR>",
    "--targets <LIST>",
    "--target-dir <DIR>",
    "--binary <ARCH=PATH>",
    "--allow-missing",
    "--sign <KEY.pem>",
    "--category <NAME>",
    "--public-key-out <PATH>",
    "--max-size <BYTES>",
];

const CHECK_OPTIONS: [&str; 14] = [
    "--region <REGION>",
    "--model <MODEL>",
    "--model-type <TYPE>",
    "--access-key <ID>",
    "--secret-key <SECRET>",
    "--session-token <TOKEN>",
    "--api-key <KEY>",
    "--role-arn <ARN>",
    "--external-id <ID>",
    "--endpoint-url <URL>",
    "--control-endpoint-url <URL>",
    "--proxy <URL>",
    "--guardrail <ID_OR_ARN>",
    "--guardrail-version <VERSION>",
];

#[test]
fn an_unknown_option_or_command_is_bad_usage_and_named() {
    for args in [
        &["--bogus"][..],
        &["serve", "--bogus"],
        &["package", "--bogus"],
        &["package", "--root", "/tmp", "--bogus=1"],
        &["check", "--region", "us-east-1", "--bogus"],
    ] {
        let err = usage_error(args);
        assert!(
            err.contains("unexpected argument '--bogus") && err.contains("Usage: dify-bedrock"),
            "{args:?}: {err}"
        );
    }
    let err = usage_error(&["frobnicate"]);
    assert!(
        err.contains("unrecognized subcommand 'frobnicate'"),
        "{err}"
    );
    // A near miss gets a suggestion.
    let err = usage_error(&["check", "--regoin", "us-east-1"]);
    assert!(
        err.contains("'--regoin'") && err.contains("'--region'"),
        "{err}"
    );
}

#[test]
fn a_bad_value_is_bad_usage_and_says_why() {
    for (args, needle) in [
        (
            &["package", "--targets", "riscv"][..],
            "unknown target \"riscv\"",
        ),
        (&["package", "--targets", ","], "--targets names no target"),
        (
            &["package", "--binary", "x86_64"],
            "--binary takes ARCH=PATH",
        ),
        (
            &["package", "--category", "friends"],
            "unknown category \"friends\"",
        ),
        (
            &["package", "--max-size", "lots"],
            "'lots' for '--max-size <BYTES>'",
        ),
        (
            &["package", "--public-key-out", "k.pem"],
            "--sign <KEY.pem>",
        ),
        (&["package", "--out"], "'--out <DIR>'"),
        (
            &["check", "--model-type", "video"],
            "unknown model type \"video\"",
        ),
        (&["check", "--region"], "'--region <REGION>'"),
    ] {
        let err = usage_error(args);
        assert!(
            err.contains(needle),
            "{args:?}: expected {needle:?} in {err}"
        );
    }
}

#[test]
fn help_lists_the_commands_and_each_commands_options() {
    for args in [&["--help"][..], &["-h"], &["help"]] {
        let out = help(args);
        for needle in [
            "serve",
            "package",
            "check",
            "models",
            "INSTALL_METHOD",
            "RUST_LOG",
        ] {
            assert!(out.contains(needle), "{args:?}: no {needle:?} in {out}");
        }
    }
    for args in [
        &["package", "--help"][..],
        &["package", "-h"],
        &["help", "package"],
    ] {
        let out = help(args);
        assert!(out.contains("Usage: dify-bedrock package"), "{out}");
        for option in PACKAGE_OPTIONS {
            assert!(out.contains(option), "package help lacks {option}:\n{out}");
        }
    }
    let out = help(&["package", "--help"]);
    assert!(out.contains("[default: 52428800]"), "{out}");
    let out = help(&["check", "--help"]);
    assert!(out.contains("Usage: dify-bedrock check"), "{out}");
    for option in CHECK_OPTIONS {
        assert!(out.contains(option), "check help lacks {option}:\n{out}");
    }
    assert!(out.contains("AWS_BEARER_TOKEN_BEDROCK") && out.contains("Exit status"));
    // `models` shares check's AWS options, and has its own filters.
    let out = help(&["models", "--help"]);
    assert!(out.contains("Usage: dify-bedrock models"), "{out}");
    for option in CHECK_OPTIONS
        .iter()
        .filter(|o| !o.starts_with("--model"))
        .chain(&["--type <TYPE>", "--json"])
    {
        assert!(out.contains(option), "models help lacks {option}:\n{out}");
    }
    assert!(out.contains("AWS_BEARER_TOKEN_BEDROCK") && out.contains("Exit status"));
    let out = help(&["serve", "--help"]);
    assert!(out.contains("Usage: dify-bedrock serve") && out.contains("INSTALL_METHOD"));
}

#[test]
fn version_names_the_build() {
    let expected = format!("dify-bedrock {}\n", env!("CARGO_PKG_VERSION"));
    for flag in ["--version", "-V", "version"] {
        let o = run(&[flag]);
        assert_eq!(o.status.code(), Some(0), "{flag}");
        assert_eq!(text(&o.stdout), expected, "{flag}");
    }
}
