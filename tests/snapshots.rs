//! What people and scripts read: exit code, stdout and stderr of every command, in both
//! `--format human` and `--format json`, locked as snapshots (tests/snapshots/), with the files
//! that `shard`, `join` and `dupes --write-unique` write listed after the output. Wording,
//! plurals, number formats and JSON fields change only on purpose: review a change with
//! `INSTA_UPDATE=always cargo test --test tests snapshots` and `git diff`.
//!
//! Each run is made twice, with `--threads=1` and `--threads=4` in two temp dirs, and the two
//! transcripts must be byte-identical (SPEC: output does not depend on `--threads`).

use std::path::Path;

use crate::util::{fixture, Dir};

/// The whole behaviour of one run in `dir`, with temp dirs and the fixtures folder replaced.
/// `tmps` are the temp dirs whose paths may appear (the run's own and the inputs').
fn once(dir: &Dir, tmps: &[&Path], format: &str, threads: &str, args: &[String]) -> String {
    let mut c = dir.cmd();
    c.env("NO_COLOR", "1")
        .arg(format!("--format={format}"))
        .arg(format!("--threads={threads}"))
        .args(args);
    let before = files(dir.path());
    let out = c.output().expect("run batchkit");
    let fixtures = fixture("");
    let clean = |s: String| {
        let mut s = s;
        for t in tmps {
            s = s.replace(&t.display().to_string(), "[TMP]");
        }
        s.replace(&fixtures.display().to_string(), "[FIXTURES]/")
            .replace("[FIXTURES]//", "[FIXTURES]/")
    };
    let mut t = format!(
        "exit: {}\n----- stdout -----\n{}----- stderr -----\n{}",
        out.status.code().map_or("signal".into(), |c| c.to_string()),
        clean(String::from_utf8_lossy(&out.stdout).into_owned()),
        clean(String::from_utf8_lossy(&out.stderr).into_owned())
    );
    let files = written(dir.path(), &before);
    if !files.is_empty() {
        t.push_str("----- files written -----\n");
        t.push_str(&clean(files));
    }
    t
}

/// Runs `args` with one thread in `dir` and with four in a fresh dir; both must print and write
/// the same. An argument `fixtures/REL` names a bundled fixture.
fn lock(dir: &Dir, format: &str, args: &[&str]) -> String {
    let args = fixtures_args(args);
    let other = Dir::new();
    let one = once(dir, &[dir.path()], format, "1", &args);
    let four = once(&other, &[other.path(), dir.path()], format, "4", &args);
    assert_eq!(one, four, "output depends on --threads");
    one
}

/// Every file under `root` (hidden ones too), sorted.
fn files(root: &Path) -> Vec<std::path::PathBuf> {
    let mut paths = Vec::new();
    walk(root, &mut paths);
    paths.sort();
    paths
}

/// Every file in `root` (hidden ones too) but those in `before` (the test's inputs), sorted,
/// with its size, lines and a short summary of its content: each JSON line's id and status,
/// `manifest.json` whole.
fn written(root: &Path, before: &[std::path::PathBuf]) -> String {
    let mut s = String::new();
    for p in files(root) {
        if before.contains(&p) {
            continue;
        }
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let data = std::fs::read(&p).unwrap();
        let lines = data.split_inclusive(|&b| b == b'\n').count();
        if rel.ends_with("manifest.json") {
            // The manifest names its input by path, so its size depends on where the test
            // runs: shown whole (paths filtered), without a size.
            s.push_str(&format!("{rel}: lines: {lines}\n"));
            for l in String::from_utf8_lossy(&data).lines() {
                s.push_str(&format!("  | {l}\n"));
            }
            continue;
        }
        s.push_str(&format!("{rel}: {} bytes, lines: {lines}\n", data.len()));
        if !rel.ends_with(".jsonl") {
            continue;
        }
        for (i, l) in data.split_inclusive(|&b| b == b'\n').enumerate() {
            let ending = if l.ends_with(b"\r\n") {
                "crlf"
            } else if l.ends_with(b"\n") {
                "lf"
            } else {
                "no newline"
            };
            let what = match serde_json::from_slice::<serde_json::Value>(l) {
                Ok(v) if v.is_object() => {
                    let mut w = Vec::new();
                    for k in ["custom_id", "key", "recordId", "status"] {
                        if let Some(x) = v.get(k) {
                            w.push(format!("{k}={x}"));
                        }
                    }
                    if let Some(x) = v.get("output_text") {
                        w.push(format!("output_text={x}"));
                    }
                    if v.get("result").is_some_and(|r| r.is_null()) {
                        w.push("result=null".into());
                    }
                    if w.is_empty() {
                        "object".into()
                    } else {
                        w.join(" ")
                    }
                }
                Ok(_) => "JSON, not an object".into(),
                Err(_) => "not JSON".into(),
            };
            s.push_str(&format!(
                "  {}: {} bytes, {ending}: {what}\n",
                i + 1,
                l.len()
            ));
        }
    }
    s
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The human transcript (the first snapshots' form).
fn human(dir: &Dir, args: &[&str]) -> String {
    lock(dir, "human", args)
}

/// The JSON transcript.
fn json(dir: &Dir, args: &[&str]) -> String {
    let t = lock(dir, "json", args);
    // Every stdout line of a JSON run is one JSON object with a "type"; the last a summary.
    let stdout = t
        .split("----- stdout -----\n")
        .nth(1)
        .unwrap()
        .split("----- stderr -----")
        .next()
        .unwrap();
    let mut last = None;
    for l in stdout.lines() {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}"));
        assert!(v["type"].is_string(), "no type: {l}");
        last = Some(v);
    }
    assert_eq!(last.expect("some output")["type"], "summary");
    t
}

fn fx(rel: &str) -> String {
    fixture(rel).display().to_string()
}

/// The human and the JSON snapshot of one command line.
macro_rules! human_and_json {
    ($human:ident, $json:ident, $args:expr) => {
        bktest!($human, |dir| {
            insta::assert_snapshot!(human(&dir, $args));
        });

        bktest!($json, |dir| {
            insta::assert_snapshot!(json(&dir, $args));
        });
    };
}

// ---- validate ----

bktest!(validate_human, |dir| {
    insta::assert_snapshot!(human(
        &dir,
        &["validate", &fx("validate/openai-faulty.jsonl")]
    ));
    insta::assert_snapshot!(
        "validate_human_clean_and_missing",
        human(
            &dir,
            &[
                "validate",
                &fx("validate/openai-valid.jsonl"),
                "missing.jsonl"
            ]
        )
    );
});

bktest!(validate_json, |dir| {
    insta::assert_snapshot!(json(
        &dir,
        &["validate", &fx("validate/openai-faulty.jsonl")]
    ));
    insta::assert_snapshot!(
        "validate_json_clean_and_missing",
        json(
            &dir,
            &[
                "validate",
                &fx("validate/openai-valid.jsonl"),
                "missing.jsonl"
            ]
        )
    );
});

/// Other providers' shapes, warnings, candidates and an overall summary over several files.
const VALIDATE_MANY: &[&str] = &[
    "validate",
    "fixtures/tokens/messy.jsonl",
    "fixtures/real/openai-trailing-blank.jsonl",
    "fixtures/join/mistral_requests.jsonl",
    "fixtures/bedrock/faulty.jsonl",
    "fixtures/xai/mixed.jsonl",
    "fixtures/join/openai_output.jsonl",
];

fn fixtures_args(args: &[&str]) -> Vec<String> {
    args.iter()
        .map(|a| match a.strip_prefix("fixtures/") {
            Some(rel) => fx(rel),
            None => a.to_string(),
        })
        .collect()
}

human_and_json!(validate_many_human, validate_many_json, VALIDATE_MANY);

// ---- dupes ----

const DUPES_INPUT: &str =
    "{\"custom_id\":\"a\",\"body\":{}}\n{\"custom_id\":\"b\",\"body\":{}}\n{\"custom_id\":\"a\",\"body\":{}}\n";

bktest!(dupes_human, |dir| {
    let p = dir.write("in.jsonl", DUPES_INPUT);
    insta::assert_snapshot!(human(&dir, &["dupes", &p.display().to_string()]));
});

bktest!(dupes_json, |dir| {
    let p = dir.write("in.jsonl", DUPES_INPUT);
    insta::assert_snapshot!(json(&dir, &["dupes", &p.display().to_string()]));
});

/// Lines without an id and duplicates within and across the bundled fixtures.
const DUPES_FIXTURES: &[&str] = &[
    "dupes",
    "fixtures/validate/openai-faulty.jsonl",
    "fixtures/shard/mixed-crlf.jsonl",
    "fixtures/validate/openai-valid.jsonl",
];

human_and_json!(dupes_fixtures_human, dupes_fixtures_json, DUPES_FIXTURES);

bktest!(dupes_write_unique_human, |dir| {
    insta::assert_snapshot!(human(
        &dir,
        &[
            "dupes",
            &fx("shard/mixed-crlf.jsonl"),
            "--write-unique",
            "unique.jsonl"
        ]
    ));
});

bktest!(dupes_write_unique_json, |dir| {
    insta::assert_snapshot!(json(
        &dir,
        &[
            "dupes",
            &fx("shard/mixed-crlf.jsonl"),
            "--write-unique",
            "unique.jsonl"
        ]
    ));
});

// ---- tokens ----

bktest!(tokens_human, |dir| {
    insta::assert_snapshot!(human(&dir, &["tokens", &fx("tokens/chat.jsonl")]));
});

bktest!(tokens_json, |dir| {
    insta::assert_snapshot!(json(
        &dir,
        &["tokens", "--per-request", &fx("tokens/chat.jsonl")]
    ));
});

bktest!(tokens_messy_human, |dir| {
    insta::assert_snapshot!(human(
        &dir,
        &[
            "tokens",
            &fx("tokens/messy.jsonl"),
            &fx("tokens/embeddings.jsonl"),
            "missing.jsonl"
        ]
    ));
});

bktest!(tokens_messy_json, |dir| {
    insta::assert_snapshot!(json(
        &dir,
        &[
            "tokens",
            "--per-request",
            &fx("tokens/messy.jsonl"),
            &fx("tokens/embeddings.jsonl"),
            "missing.jsonl"
        ]
    ));
});

// ---- shard ----

const SHARD_VALID: &[&str] = &[
    "shard",
    "fixtures/validate/openai-valid.jsonl",
    "--out-dir",
    "out",
    "--max-requests",
    "2",
];

human_and_json!(shard_human, shard_json, SHARD_VALID);

const SHARD_SKIP: &[&str] = &[
    "shard",
    "fixtures/shard/mixed-crlf.jsonl",
    "--out-dir",
    "out",
    "--max-requests",
    "3",
    "--max-tokens",
    "100",
    "--skip-invalid",
];

human_and_json!(
    shard_skip_invalid_human,
    shard_skip_invalid_json,
    SHARD_SKIP
);

const SHARD_REFUSED: &[&str] = &[
    "shard",
    "fixtures/shard/mixed-crlf.jsonl",
    "--out-dir",
    "out",
];

human_and_json!(shard_refused_human, shard_refused_json, SHARD_REFUSED);

const SHARD_SPLIT: &[&str] = &[
    "shard",
    "fixtures/xai/mixed.jsonl",
    "--out-dir",
    "out",
    "--split-by",
    "url",
];

human_and_json!(shard_split_human, shard_split_json, SHARD_SPLIT);

// ---- join ----

const JOIN_OPENAI: &[&str] = &[
    "join",
    "--requests",
    "fixtures/join/openai_requests.jsonl",
    "--results",
    "fixtures/join/openai_output.jsonl",
    "fixtures/join/openai_errors.jsonl",
    "--out",
    "merged.jsonl",
    "--retry",
    "retry.jsonl",
];

human_and_json!(join_human, join_json, JOIN_OPENAI);

const JOIN_VERTEX: &[&str] = &[
    "join",
    "--requests",
    "fixtures/join/vertex_requests.jsonl",
    "--results",
    "fixtures/join/vertex_predictions.jsonl",
    "--out",
    "merged.jsonl",
    "--retry",
    "retry.jsonl",
    "--orphans",
    "orphans.jsonl",
];

human_and_json!(join_vertex_human, join_vertex_json, JOIN_VERTEX);

/// Several providers' layouts at once, all successes and unpriced models.
const JOIN_MANY: &[&str] = &[
    "join",
    "--requests",
    "fixtures/join/anthropic_requests.jsonl",
    "fixtures/join/gemini_requests.jsonl",
    "fixtures/join/responses_requests.jsonl",
    "--results",
    "fixtures/join/gemini_results.jsonl",
    "fixtures/join/anthropic_results.jsonl",
    "fixtures/join/responses_results.jsonl",
    "--out",
    "merged.jsonl",
    "--orphans",
    "orphans.jsonl",
];

human_and_json!(join_many_human, join_many_json, JOIN_MANY);

/// Answers cut and refused by several providers (OpenAI chat, Bedrock Claude, Nova and Llama,
/// vLLM, xAI): the statuses with their notes, the stop reasons under each model.
const JOIN_ANSWERS: &[&str] = &[
    "join",
    "--requests",
    "fixtures/join/answers/openai_requests.jsonl",
    "fixtures/join/answers/bedrock_requests.jsonl",
    "fixtures/join/answers/vllm_requests.jsonl",
    "fixtures/join/answers/xai_requests.jsonl",
    "--results",
    "fixtures/join/answers/xai_results.jsonl",
    "fixtures/join/answers/openai_results.jsonl",
    "fixtures/join/answers/bedrock_results.jsonl",
    "fixtures/join/answers/vllm_results.jsonl",
    "--out",
    "merged.jsonl",
    "--retry",
    "retry.jsonl",
];

human_and_json!(join_answers_human, join_answers_json, JOIN_ANSWERS);

/// Truncated answers retried with a raised output cap (Bedrock lines name no model: no limit).
const JOIN_RAISE: &[&str] = &[
    "join",
    "--requests",
    "fixtures/join/answers/openai_requests.jsonl",
    "fixtures/join/answers/bedrock_requests.jsonl",
    "--results",
    "fixtures/join/answers/openai_results.jsonl",
    "fixtures/join/answers/bedrock_results.jsonl",
    "--out",
    "merged.jsonl",
    "--retry",
    "retry.jsonl",
    "--raise-max-tokens",
    "1.5",
];

human_and_json!(join_raise_human, join_raise_json, JOIN_RAISE);

// ---- unreadable inputs ----

// An input that cannot be opened, next to a readable one where the command takes several:
// exit 2, said on stderr and, in JSON, as an `error` event on stdout; dupes still checks the
// readable inputs and ends with its summary.
bktest!(missing_inputs_json, |dir| {
    insta::assert_snapshot!(
        "missing_input_dupes_json",
        lock(
            &dir,
            "json",
            &[
                "dupes",
                "fixtures/validate/openai-valid.jsonl",
                "missing.jsonl"
            ]
        )
    );
    insta::assert_snapshot!(
        "missing_input_shard_json",
        lock(
            &dir,
            "json",
            &["shard", "missing.jsonl", "--out-dir", "out"]
        )
    );
    insta::assert_snapshot!(
        "missing_input_join_json",
        lock(
            &dir,
            "json",
            &[
                "join",
                "--requests",
                "fixtures/join/openai_requests.jsonl",
                "--results",
                "missing.jsonl",
                "--out",
                "merged.jsonl"
            ]
        )
    );
});

bktest!(missing_inputs_human, |dir| {
    insta::assert_snapshot!(
        "missing_input_dupes_human",
        human(
            &dir,
            &[
                "dupes",
                "fixtures/validate/openai-valid.jsonl",
                "missing.jsonl"
            ]
        )
    );
    insta::assert_snapshot!(
        "missing_input_shard_human",
        human(&dir, &["shard", "missing.jsonl", "--out-dir", "out"])
    );
    insta::assert_snapshot!(
        "missing_input_join_human",
        human(
            &dir,
            &[
                "join",
                "--requests",
                "fixtures/join/openai_requests.jsonl",
                "--results",
                "missing.jsonl",
                "--out",
                "merged.jsonl"
            ]
        )
    );
});

/// `batchkit CMD --help` at a terminal width of `cols`.
fn long_help(cmd: &str, cols: usize) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_batchkit"))
        .env("COLUMNS", cols.to_string())
        .args([cmd, "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

bktest!(help_examples_come_last_and_copy_paste_whole, |_dir| {
    for cmd in [
        "validate", "dupes", "tokens", "shard", "join", "compare", "convert",
    ] {
        let help = long_help(cmd, 80);
        // After the options, as the last block, in every command.
        let (before, examples) = help
            .split_once("\nExamples:\n")
            .unwrap_or_else(|| panic!("{cmd}: no Examples block:\n{help}"));
        assert!(
            before.contains("\nOptions:\n"),
            "{cmd}: Examples before the options"
        );
        let lines: Vec<&str> = examples.lines().collect();
        assert!(lines.len() >= 2, "{cmd}");
        let mut continued = false;
        for l in &lines {
            assert!(l.len() <= 80, "{cmd}: {l:?} is wider than the terminal");
            let starts = l.starts_with("  batchkit ") || l.starts_with("  cat ");
            assert!(
                starts != continued && (starts || l.starts_with("    ")),
                "{cmd}: {l:?} is neither a command nor the continuation of one (a wrap?)"
            );
            continued = l.ends_with('\\');
        }
        assert!(!continued, "{cmd}: the last example ends in a continuation");
    }
});

bktest!(
    help_and_flag_errors_say_what_they_follow_and_expect,
    |dir| {
        // --color follows stdout.
        let help = long_help("validate", 100);
        let color = help.split("--color").nth(1).unwrap();
        assert!(color[..200].contains("stdout"), "{color}");
        // A number that does not parse: the flag and the form expected.
        for (args, flag, form) in [
            (
                &["shard", "x.jsonl", "-o", "o", "--max-requests", "5k"][..],
                "--max-requests",
                "whole number",
            ),
            (
                &["validate", "x.jsonl", "--max-errors", "ten"][..],
                "--max-errors",
                "whole number",
            ),
            (
                &["tokens", "x.jsonl", "--queue-limit", "1,000"][..],
                "--queue-limit",
                "whole number",
            ),
            (
                &[
                    "shard",
                    "x.jsonl",
                    "-o",
                    "o",
                    "--compress",
                    "--compress-level",
                    "x",
                ][..],
                "--compress-level",
                "1 to 22",
            ),
        ] {
            let mut c = dir.cmd();
            c.args(args);
            let out = c.output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{err}");
            assert!(err.contains(flag) && err.contains(form), "{args:?}: {err}");
        }
        // vllm (and custom) are openai-compatible.
        let run_as = |provider: &str| {
            let mut c = dir.cmd();
            c.args(["--format", "json", "validate", "--provider", provider])
                .arg(fixture("validate/openai-valid.jsonl"));
            let out = c.output().unwrap();
            (out.status.code(), String::from_utf8(out.stdout).unwrap())
        };
        let compatible = run_as("openai-compatible");
        assert_eq!(compatible.0, Some(0));
        assert!(
            compatible.1.contains("\"provider\":\"openai-compatible\""),
            "{}",
            compatible.1
        );
        assert_eq!(run_as("vllm"), compatible);
        assert_eq!(run_as("VLLM"), compatible);
        assert_eq!(run_as("custom"), compatible);
    }
);

bktest!(
    validate_without_a_file_on_a_terminal_says_it_reads_stdin,
    |dir| {
        // A pseudo-terminal from util-linux `script`, when the machine has it.
        let Ok(script) = which_script() else {
            return;
        };
        let bin = env!("CARGO_BIN_EXE_batchkit");
        let mut c = std::process::Command::new(script);
        c.current_dir(dir.path()).args([
            "-qec",
            &format!("{bin} --color never validate"),
            "/dev/null",
        ]);
        // Ctrl-D ends the input.
        let out = crate::util::run_with_stdin(c, b"\x04");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("reading request lines from stdin"), "{text}");
        // Not on a pipe: scripts read the output.
        let mut c = dir.cmd();
        c.arg("validate");
        let out = crate::util::run_with_stdin(c, b"");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("reading"));
    }
);

fn which_script() -> Result<std::path::PathBuf, ()> {
    ["/usr/bin/script", "/bin/script"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
        .ok_or(())
}
