//! `batchkit shard` end to end.

use std::fs;

use crate::util::{code, fixture, json_lines, run};

fn req(i: usize, model: &str) -> String {
    format!(
        "{{\"custom_id\":\"r{i}\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"{model}\",\"messages\":[{{\"role\":\"user\",\"content\":\"hello {i}\"}}]}}}}"
    )
}

/// Runs with stdin bytes; kills the run and fails (rather than hang) after a minute.
fn with_deadline(mut c: std::process::Command, stdin: &[u8], what: &str) -> std::process::Output {
    use std::io::{Read, Write};
    use std::process::Stdio;
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn batchkit");
    let mut si = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = si.write_all(&data);
    });
    let mut so = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: no exit within 60 s (killed)");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    writer.join().unwrap();
    let stdout = reader.join().unwrap();
    let mut stderr = Vec::new();
    let _ = child.stderr.take().unwrap().read_to_end(&mut stderr);
    std::process::Output {
        status,
        stdout,
        stderr,
    }
}

fn files(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

bktest!(cuts_to_caps_and_prints_json_lines, |dir| {
    let data: String = (0..7).map(|i| req(i, "gpt-4o") + "\r\n").collect();
    dir.write("in.jsonl", &data);
    let out = run({
        let mut c = dir.cmd();
        c.args([
            "--format",
            "json",
            "shard",
            "in.jsonl",
            "-o",
            "out",
            "--max-requests",
            "3",
        ]);
        c
    });
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let ev = json_lines(&out);
    let types: Vec<&str> = ev.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["shard", "shard", "shard", "summary"]);
    assert_eq!(ev[0]["file"], "in-00001.jsonl");
    assert_eq!(ev[2]["requests"], 1);
    assert_eq!(ev[3]["shards"], 3);
    assert_eq!(ev[3]["written"], true);
    assert_eq!(ev[3]["ok"], true);
    assert_eq!(
        files(&dir.join("out")),
        [
            "in-00001.jsonl",
            "in-00002.jsonl",
            "in-00003.jsonl",
            "manifest.json"
        ]
    );
    let back: Vec<u8> = (1..=3)
        .flat_map(|n| fs::read(dir.join(&format!("out/in-0000{n}.jsonl"))).unwrap())
        .collect();
    assert_eq!(back, data.as_bytes());
    let m: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("out/manifest.json")).unwrap()).unwrap();
    assert_eq!(m["provider"], "openai");
    assert_eq!(m["caps"]["max_requests"], 3);
    assert_eq!(m["caps"]["max_bytes"], 209_715_200);
    assert_eq!(m["input"]["lines"], 7);
    assert_eq!(m["shards"][1]["first_line"], 4);
    assert_eq!(m["shards"][1]["sha256"].as_str().unwrap().len(), 64);
    assert!(m["rejected"].is_null());
});

bktest!(size_flags_resolve_in_both_units, |dir| {
    let data: String = (0..40).map(|i| req(i, "gpt-4o") + "\n").collect();
    dir.write("in.jsonl", &data);
    for (flag, want) in [
        ("1KiB", 1024),
        ("1kB", 1000),
        ("1.5KB", 1500),
        ("2000", 2000),
    ] {
        let o = format!("out-{flag}");
        let out = run({
            let mut c = dir.cmd();
            c.args([
                "--format",
                "json",
                "shard",
                "in.jsonl",
                "-o",
                &o,
                "--max-bytes",
                flag,
            ]);
            c
        });
        assert_eq!(
            code(&out),
            0,
            "{flag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let m: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join(&format!("{o}/manifest.json"))).unwrap())
                .unwrap();
        assert_eq!(m["caps"]["max_bytes"], want, "{flag}");
        for s in m["shards"].as_array().unwrap() {
            assert!(s["bytes"].as_u64().unwrap() <= want);
        }
    }
    for bad in [
        ["--max-bytes", "12XB"],
        ["--max-bytes", "0"],
        ["--max-requests", "0"],
        ["--provider", "nope"],
    ] {
        let out = run({
            let mut c = dir.cmd();
            c.args(["shard", "in.jsonl", "-o", "bad"]).args(bad);
            c
        });
        assert_eq!(code(&out), 2, "{bad:?}");
        assert!(!dir.join("bad").exists());
    }
});

bktest!(invalid_lines_are_refused_with_diagnostics, |dir| {
    dir.write(
        "in.jsonl",
        format!("{}\n{{\"custom_id\":\n{}\n", req(1, "m"), req(2, "m")),
    );
    let out = run({
        let mut c = dir.cmd();
        c.args(["--format", "json", "shard", "in.jsonl", "-o", "out"]);
        c
    });
    assert_eq!(code(&out), 1);
    let ev = json_lines(&out);
    assert_eq!(ev[0]["type"], "diagnostic");
    assert_eq!(ev[0]["code"], "invalid_json");
    assert_eq!(ev[0]["line"], 2);
    assert_eq!(ev[0]["file"], "in.jsonl");
    let last = ev.last().unwrap();
    assert_eq!(last["type"], "summary");
    assert_eq!(last["written"], false);
    assert_eq!(last["refused"], "invalid_lines");
    assert!(!dir.join("out").exists());

    let human = run({
        let mut c = dir.cmd();
        c.args(["--format", "human", "shard", "in.jsonl", "-o", "out"]);
        c
    });
    assert_eq!(code(&human), 1);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("error[invalid_json]"), "{text}");
    assert!(text.contains("--> in.jsonl:2"), "{text}");
    assert!(text.contains("nothing written"), "{text}");
});

bktest!(skip_invalid_writes_rejects_and_exits_1, |dir| {
    let data = format!(
        "{}\nnot json\n{}\n\n{}",
        req(1, "m"),
        req(2, "m"),
        req(3, "m")
    );
    dir.write("in.jsonl", &data);
    let out = run({
        let mut c = dir.cmd();
        c.args([
            "--format",
            "json",
            "shard",
            "in.jsonl",
            "-o",
            "out",
            "--skip-invalid",
        ]);
        c
    });
    assert_eq!(code(&out), 1);
    assert_eq!(
        fs::read_to_string(dir.join("out/rejected.jsonl")).unwrap(),
        "not json\n\n"
    );
    assert_eq!(
        fs::read_to_string(dir.join("out/in-00001.jsonl")).unwrap(),
        format!("{}\n{}\n{}\n", req(1, "m"), req(2, "m"), req(3, "m"))
    );
    let last = json_lines(&out).pop().unwrap();
    assert_eq!(
        (last["rejected"].as_u64(), last["written"].as_bool()),
        (Some(2), Some(true))
    );
    // Human output names the rejected file and the manifest the same way: by their paths
    // under the output directory as given.
    for out_dir in ["out2", "./nested/out3"] {
        let human = run({
            let mut c = dir.cmd();
            c.args(["--format", "human", "shard", "in.jsonl", "-o", out_dir])
                .arg("--skip-invalid");
            c
        });
        assert_eq!(code(&human), 1);
        let text = String::from_utf8_lossy(&human.stdout);
        let sep = std::path::MAIN_SEPARATOR;
        let rejected = format!("2 invalid lines in {out_dir}{sep}rejected.jsonl;");
        let manifest = format!("; manifest: {out_dir}{sep}manifest.json");
        assert!(text.contains(&rejected), "{text}");
        assert!(text.contains(&manifest), "{text}");
    }
});

bktest!(a_line_over_the_byte_cap_exits_2_naming_it, |dir| {
    let long = req(2, "m").replace("hello 2", &"x".repeat(3000));
    dir.write("in.jsonl", format!("{}\n{long}\n", req(1, "m")));
    let out = run({
        let mut c = dir.cmd();
        c.args(["shard", "in.jsonl", "-o", "out", "--max-bytes", "2KB"]);
        c
    });
    assert_eq!(code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("in.jsonl:2:") && err.contains("byte cap of 2000 bytes"),
        "{err}"
    );
    assert!(!dir.join("out").exists());
});

bktest!(non_empty_dir_needs_force, |dir| {
    dir.write("in.jsonl", req(1, "m") + "\n");
    fs::create_dir(dir.join("out")).unwrap();
    dir.write("out/keep.txt", "x");
    let out = run({
        let mut c = dir.cmd();
        c.args(["shard", "in.jsonl", "-o", "out"]);
        c
    });
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert_eq!(files(&dir.join("out")), ["keep.txt"]);
    let out = run({
        let mut c = dir.cmd();
        c.args(["shard", "in.jsonl", "-o", "out", "--force"]);
        c
    });
    assert_eq!(code(&out), 0);
    assert_eq!(
        files(&dir.join("out")),
        ["in-00001.jsonl", "keep.txt", "manifest.json"]
    );
});

bktest!(stdin_split_by_model_and_threads_agree, |dir| {
    let models = ["gpt-4o", "gpt-4o-mini"];
    let data: String = (0..300)
        .map(|i| req(i, models[(i + i / 7) % 2]) + "\n")
        .collect();
    let mut seen = Vec::new();
    for threads in ["1", "4"] {
        let o = "out".to_string();
        let mut c = dir.cmd();
        c.args([
            "--threads",
            threads,
            "--format",
            "json",
            "shard",
            "-",
            "-o",
            &o,
        ])
        .args(["--split-by", "model", "--max-bytes", "5000"]);
        let out = with_deadline(c, data.as_bytes(), &format!("--threads {threads}"));
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
        let names = files(&dir.join(&o));
        assert!(
            names.contains(&"stdin-gpt-4o-mini-00001.jsonl".to_string()),
            "{names:?}"
        );
        let all: Vec<(String, Vec<u8>)> = names
            .iter()
            .map(|n| (n.clone(), fs::read(dir.join(&o).join(n)).unwrap()))
            .collect();
        seen.push((all, out.stdout));
        fs::remove_dir_all(dir.join(&o)).unwrap();
    }
    assert_eq!(seen[0], seen[1]);
});

bktest!(bundled_fixture_shards_exactly, |dir| {
    let input = fixture("shard/mixed-crlf.jsonl");
    let out = run({
        let mut c = dir.cmd();
        c.args(["--format", "json", "shard"]).arg(&input).args([
            "-o",
            "out",
            "--max-requests",
            "2",
            "--skip-invalid",
        ]);
        c
    });
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let m: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("out/manifest.json")).unwrap()).unwrap();
    let mut lines: Vec<(u64, Vec<u8>)> = Vec::new();
    for s in m["shards"].as_array().unwrap() {
        let bytes = fs::read(dir.join("out").join(s["file"].as_str().unwrap())).unwrap();
        let first = s["first_line"].as_u64().unwrap();
        for (k, l) in bytes.split_inclusive(|b| *b == b'\n').enumerate() {
            lines.push((first + k as u64, l.to_vec()));
        }
    }
    let mut original = fs::read(&input).unwrap();
    assert!(!original.ends_with(b"\n"));
    original.push(b'\n'); // the one byte shard adds: a final newline
    let rejected = fs::read(dir.join("out/rejected.jsonl")).unwrap();
    let mut rebuilt: Vec<u8> = lines.iter().flat_map(|(_, l)| l.clone()).collect();
    rebuilt.extend(&rejected);
    let mut a: Vec<&[u8]> = original.split_inclusive(|b| *b == b'\n').collect();
    let mut b: Vec<&[u8]> = rebuilt.split_inclusive(|b| *b == b'\n').collect();
    a.sort();
    b.sort();
    assert_eq!(a, b, "shards + rejects hold every input line once");
});

// ---- The JSON Lines schema and the manifest, redeclared and locked (see `util::strict`). ----

use crate::validate::{Diag, InputError};

/// One shard, as the `shard` event and the manifest print it.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct Shard {
    file: String,
    requests: u64,
    bytes: u64,
    /// Only with `--compress`.
    file_bytes: Option<u64>,
    /// Only with `--max-tokens`.
    input_tokens: Option<u64>,
    /// Only when the shard has embedding inputs.
    embedding_inputs: Option<u64>,
    first_line: u64,
    last_line: u64,
    sha256: String,
    /// Only with `--split-by`.
    group: Option<String>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct SSummary {
    file: String,
    out_dir: String,
    provider: Option<String>,
    written: bool,
    refused: Option<Refused>,
    lines: u64,
    bytes: u64,
    shards: u64,
    requests: u64,
    rejected: u64,
    invalid_lines: u64,
    errors: u64,
    warnings: u64,
    ok: bool,
    error: Option<crate::validate::RunError>,
}

#[derive(Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum Refused {
    InvalidLines,
    LateDuplicates,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum SEvent {
    Diagnostic(Diag),
    Shard(Shard),
    Summary(crate::util::SummaryOf<SSummary>),
    Error(InputError),
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    input: ManifestInput,
    provider: Option<String>,
    caps: Caps,
    split_by: String,
    emit: String,
    compressed: bool,
    shards: Vec<Shard>,
    rejected: Option<Rejected>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct ManifestInput {
    name: String,
    bytes: u64,
    lines: u64,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct Caps {
    max_requests: Option<u64>,
    max_bytes: Option<u64>,
    max_tokens: Option<u64>,
    max_embedding_inputs: Option<u64>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct Rejected {
    file: String,
    lines: u64,
    bytes: u64,
    sha256: String,
}

bktest!(
    every_event_and_the_manifest_fit_the_declared_schema,
    |dir| {
        let fx = |r: &str| fixture(r).display().to_string();
        let runs: Vec<Vec<String>> = vec![
            vec![
                fx("validate/openai-valid.jsonl"),
                "--max-requests".into(),
                "2".into(),
            ],
            vec![fx("shard/mixed-crlf.jsonl")],
            vec![
                fx("shard/mixed-crlf.jsonl"),
                "--skip-invalid".into(),
                "--max-tokens".into(),
                "60".into(),
            ],
            vec![
                fx("validate/openai-faulty.jsonl"),
                "--skip-invalid".into(),
                "--compress".into(),
            ],
            vec![fx("validate/openai-faulty.jsonl")],
            vec![fx("xai/mixed.jsonl"), "--split-by".into(), "url".into()],
            vec![
                fx("tokens/embeddings.jsonl"),
                "--max-embedding-inputs".into(),
                "2".into(),
            ],
            vec![fx("tokens/messy.jsonl"), "--skip-invalid".into()],
            vec![
                fx("join/anthropic_requests.jsonl"),
                "--max-requests".into(),
                "3".into(),
            ],
            vec![fx("bedrock/faulty.jsonl"), "--skip-invalid".into()],
            vec!["missing.jsonl".into()],
        ];
        let mut seen = std::collections::BTreeSet::new();
        for (k, args) in runs.iter().enumerate() {
            let out_dir = format!("out{k}");
            let out = run({
                let mut c = dir.cmd();
                c.args(["--format", "json", "shard"])
                    .args(args)
                    .args(["-o", &out_dir]);
                c
            });
            let rc = code(&out);
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let events: Vec<SEvent> = crate::util::strict_lines(&out);
            let manifest = dir.join(&out_dir).join("manifest.json");
            if rc == 2 {
                // Could not do the job: said on stderr, nothing written.
                assert!(
                    !stderr.is_empty() && !manifest.exists(),
                    "{args:?}: {stdout}"
                );
                for e in &events {
                    seen.insert(format!("{e:?}").split('(').next().unwrap().to_string());
                }
                // The failed run's summary last, with the error stderr gives.
                let Some(SEvent::Summary(crate::util::SummaryOf::Failed(f))) = events.last() else {
                    panic!("{args:?}: no failed summary last: {stdout}");
                };
                assert!(!f.ok);
                assert_eq!(stderr.trim_end(), format!("error: {}", f.error.message));
                if args[0] == "missing.jsonl" {
                    // An unreadable input: the error event on stdout, as validate, tokens and
                    // dupes print it, and the same message once on stderr.
                    let [SEvent::Error(e), _] = &events[..] else {
                        panic!("{args:?}: one error event expected: {stdout}");
                    };
                    assert_eq!(e.file, "missing.jsonl");
                    assert_eq!(f.error.file.as_deref(), Some("missing.jsonl"));
                }
                continue;
            }
            let Some(SEvent::Summary(crate::util::SummaryOf::Done(s))) = events.last() else {
                panic!("{args:?}: no summary last: {stdout}");
            };
            seen.insert("Summary".to_string());
            assert_eq!(rc, if s.ok { 0 } else { 1 }, "{args:?}: {stdout}");
            let mut shards = Vec::new();
            let mut diags = 0;
            for e in &events[..events.len() - 1] {
                match e {
                    SEvent::Diagnostic(d) => {
                        seen.insert("Diagnostic".into());
                        assert!(shards.is_empty(), "findings come before the shards");
                        // A file-level finding (too_few_requests) has neither.
                        assert_eq!(d.line.is_some(), d.offset.is_some(), "{d:?}");
                        diags += 1;
                    }
                    SEvent::Shard(x) => {
                        seen.insert("Shard".into());
                        shards.push(x);
                    }
                    SEvent::Summary(_) => panic!("two summaries: {stdout}"),
                    SEvent::Error(_) => {
                        seen.insert("Error".into());
                    }
                }
            }
            assert_eq!(s.errors + s.warnings, diags, "{args:?}");
            assert_eq!(s.shards, shards.len() as u64);
            assert_eq!(s.requests, shards.iter().map(|x| x.requests).sum::<u64>());
            if !s.written {
                assert_eq!(s.refused, Some(Refused::InvalidLines));
                assert!(shards.is_empty() && !manifest.exists(), "{args:?}");
                continue;
            }
            assert_eq!(s.refused, None);
            let text = fs::read_to_string(&manifest).expect("a manifest");
            let m: Manifest = crate::util::strict(&text);
            assert_eq!(m.input.name, args[0]);
            assert_eq!((m.input.lines, m.input.bytes), (s.lines, s.bytes));
            assert_eq!(m.provider, s.provider);
            assert_eq!(m.shards.len(), shards.len());
            for (a, b) in m.shards.iter().zip(&shards) {
                // The event is the manifest entry.
                assert_eq!(
                    serde_json::to_value(a).unwrap(),
                    serde_json::to_value(b).unwrap()
                );
                let on_disk = fs::metadata(dir.join(&out_dir).join(&a.file))
                    .unwrap()
                    .len();
                assert_eq!(on_disk, a.file_bytes.unwrap_or(a.bytes), "{a:?}");
                assert_eq!(a.file_bytes.is_some(), m.compressed);
                assert_eq!(a.input_tokens.is_some(), m.caps.max_tokens.is_some());
                assert_eq!(a.group.is_some(), m.split_by != "none");
                assert!(a.first_line <= a.last_line && a.sha256.len() == 64);
            }
            match &m.rejected {
                Some(r) => {
                    assert_eq!(r.lines, s.rejected);
                    assert_eq!(
                        fs::metadata(dir.join(&out_dir).join(&r.file))
                            .unwrap()
                            .len(),
                        r.bytes
                    );
                }
                None => assert_eq!(s.rejected, 0),
            }
        }
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            ["Diagnostic", "Error", "Shard", "Summary"],
            "every event shard prints"
        );
    }
);

bktest!(
    caps_above_the_providers_are_refused_unless_asked_for,
    |dir| {
        let lines: String = (0..3).map(|i| req(i, "gpt-4o-mini") + "\n").collect();
        let input = dir.write("in.jsonl", lines);
        // (extra flags, exit code, words in stderr)
        let cases: [(&[&str], i32, &str); 8] = [
            (
                &["--max-requests", "60000"],
                2,
                "--max-requests 60000 is above OpenAI's cap of 50000",
            ),
            (
                &["--max-requests", "60000", "--provider", "openai"],
                2,
                "--max-requests 60000",
            ),
            (
                &["--max-bytes", "300MB"],
                2,
                "--max-bytes 300000000 is above OpenAI's cap of 209715200",
            ),
            (&["--max-requests", "50000", "--max-bytes", "200MiB"], 0, ""),
            (&["--max-requests", "60000", "--allow-over-cap"], 0, ""),
            (&["--max-bytes", "300MB", "--allow-over-cap"], 0, ""),
            (&["--max-requests", "60000", "--provider", "custom"], 0, ""),
            (&["--max-requests", "60000", "--provider", "vllm"], 0, ""),
        ];
        for (i, (extra, want, words)) in cases.iter().enumerate() {
            let out_dir = format!("out{i}");
            let mut c = dir.cmd();
            c.arg("shard")
                .arg(&input)
                .args(["-o", &out_dir])
                .args(*extra);
            let out = run(c);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(code(&out), *want, "{extra:?}: {err}");
            assert!(err.contains(words), "{extra:?}: {err}");
            if *want == 2 {
                assert!(err.contains("--allow-over-cap"), "{err}");
                assert!(
                    !dir.join(&out_dir).exists(),
                    "{extra:?}: nothing is written"
                );
            } else {
                assert!(
                    dir.join(&out_dir).join("manifest.json").exists(),
                    "{extra:?}"
                );
            }
        }
    }
);

bktest!(
    an_input_without_requests_gets_a_manifest_without_shards,
    |dir| {
        dir.write("empty.jsonl", "");
        dir.write("blank.jsonl", "\n\n");
        // (flags, stdin): every input path and output layout, the same answer.
        let cases: [(&[&str], &[u8]); 6] = [
            (&["empty.jsonl"], b""),
            (&["-"], b""),
            (&["blank.jsonl", "--skip-invalid"], b""),
            (&["empty.jsonl", "--split-by", "model"], b""),
            (&["empty.jsonl", "--compress"], b""),
            (
                &[
                    "empty.jsonl",
                    "--provider",
                    "anthropic",
                    "--emit",
                    "anthropic-body",
                ],
                b"",
            ),
        ];
        for (i, (args, stdin)) in cases.iter().enumerate() {
            let out_dir = format!("o{i}");
            let mut c = dir.cmd();
            c.args(["--format", "json", "shard"])
                .args(*args)
                .args(["-o", &out_dir]);
            let out = crate::util::run_with_stdin(c, stdin);
            assert_eq!(code(&out), 1, "{args:?}: providers reject an empty batch");
            let events = json_lines(&out);
            assert!(
                events.iter().any(|e| e["code"] == "empty_file"),
                "{args:?}: {events:?}"
            );
            let summary = events.last().unwrap();
            assert_eq!(summary["written"], true, "{args:?}");
            assert_eq!(summary["shards"], 0, "{args:?}");
            let names: Vec<String> = fs::read_dir(dir.join(&out_dir))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(names, ["manifest.json"], "{args:?}");
            let m: serde_json::Value = serde_json::from_slice(
                &fs::read(dir.join(&out_dir).join("manifest.json")).unwrap(),
            )
            .unwrap();
            assert_eq!(m["shards"], serde_json::json!([]), "{args:?}");
            assert_eq!(m["input"]["lines"], if i == 2 { 2 } else { 0 }, "{args:?}");
        }
    }
);
