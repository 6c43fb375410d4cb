//! What people read: exit code, stdout and stderr of each command's human output, locked as
//! snapshots (tests/snapshots/). Wording, plurals and number formats change only on purpose:
//! review a change with `INSTA_UPDATE=always cargo test --test tests snapshots` and `git diff`.

use std::process::Command;

use crate::util::{fixture, Dir};

/// The whole behaviour of one run, with the temp dir and the fixtures folder replaced.
fn transcript(dir: &Dir, mut c: Command) -> String {
    c.env("NO_COLOR", "1").arg("--format=human");
    let out = c.output().expect("run batchkit");
    let fixtures = fixture("");
    let clean = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .replace(&dir.path().display().to_string(), "[TMP]")
            .replace(&fixtures.display().to_string(), "[FIXTURES]/")
            .replace("[FIXTURES]//", "[FIXTURES]/")
    };
    format!(
        "exit: {}\n----- stdout -----\n{}----- stderr -----\n{}",
        out.status.code().map_or("signal".into(), |c| c.to_string()),
        clean(&out.stdout),
        clean(&out.stderr)
    )
}

fn cmd(dir: &Dir, args: &[&str]) -> Command {
    let mut c = dir.cmd();
    c.args(args);
    c
}

fn fx(rel: &str) -> String {
    fixture(rel).display().to_string()
}

bktest!(validate_human, |dir| {
    insta::assert_snapshot!(transcript(
        &dir,
        cmd(&dir, &["validate", &fx("validate/openai-faulty.jsonl")])
    ));
    insta::assert_snapshot!(
        "validate_human_clean_and_missing",
        transcript(
            &dir,
            cmd(
                &dir,
                &[
                    "validate",
                    &fx("validate/openai-valid.jsonl"),
                    "missing.jsonl"
                ]
            )
        )
    );
});

bktest!(dupes_human, |dir| {
    let p = dir.write(
        "in.jsonl",
        "{\"custom_id\":\"a\",\"body\":{}}\n{\"custom_id\":\"b\",\"body\":{}}\n{\"custom_id\":\"a\",\"body\":{}}\n",
    );
    insta::assert_snapshot!(transcript(
        &dir,
        cmd(&dir, &["dupes", &p.display().to_string()])
    ));
});

bktest!(shard_human, |dir| {
    insta::assert_snapshot!(transcript(
        &dir,
        cmd(
            &dir,
            &[
                "shard",
                &fx("validate/openai-valid.jsonl"),
                "--out-dir",
                "out",
                "--max-requests",
                "2",
            ]
        )
    ));
});

bktest!(join_human, |dir| {
    insta::assert_snapshot!(transcript(
        &dir,
        cmd(
            &dir,
            &[
                "join",
                "--requests",
                &fx("join/openai_requests.jsonl"),
                "--results",
                &fx("join/openai_output.jsonl"),
                &fx("join/openai_errors.jsonl"),
                "--out",
                "merged.jsonl",
                "--retry",
                "retry.jsonl",
            ]
        )
    ));
});

bktest!(tokens_human, |dir| {
    insta::assert_snapshot!(transcript(
        &dir,
        cmd(&dir, &["tokens", &fx("tokens/chat.jsonl")])
    ));
});
