//! `batchkit validate` end to end.

use std::collections::BTreeSet;

use batchkit_report::validate::{DiagnosticEvent, SummaryEvent};

use crate::util::{code, fixture, json_lines, run, run_with_stdin};

/// (code, line) of every diagnostic, and the summaries, parsed strictly.
fn parse(stdout: &[u8]) -> (Vec<(String, Option<u64>)>, Vec<SummaryEvent>) {
    let mut diags = Vec::new();
    let mut sums = Vec::new();
    for line in String::from_utf8_lossy(stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        match v["type"].as_str() {
            Some("diagnostic") => {
                let d: DiagnosticEvent<'_> =
                    serde_json::from_str(line).expect("strict diagnostic shape");
                diags.push((
                    serde_json::to_value(d.code)
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .to_string(),
                    d.line,
                ));
            }
            Some("summary") => sums.push(serde_json::from_str(line).expect("strict summary shape")),
            Some("error") => {
                let e: batchkit_report::ErrorEvent =
                    serde_json::from_str(line).expect("strict error shape");
                diags.push(("error".into(), None));
                assert!(!e.message.is_empty() && !e.file.is_empty());
            }
            other => panic!("unexpected type {other:?}"),
        }
    }
    (diags, sums)
}

fn expected_faulty() -> Vec<(String, Option<u64>)> {
    [
        ("invalid_json", 2),
        ("not_object", 3),
        ("empty_line", 4),
        ("missing_field", 5),
        ("wrong_type", 6),
        ("invalid_custom_id", 7),
        ("duplicate_id", 8),
        ("invalid_method", 9),
        ("unsupported_url", 10),
        ("url_mismatch", 10),
        ("url_mismatch", 11),
        ("model_mismatch", 12),
        ("invalid_json", 13),
        ("invalid_utf8", 14),
        ("invalid_json", 15),
        ("invalid_json", 16),
    ]
    .iter()
    .map(|(c, l)| (c.to_string(), Some(*l)))
    .collect()
}

bktest!(every_line_code_on_the_faulty_fixture, |dir| {
    let mut c = dir.cmd();
    c.args(["--format", "json", "validate"])
        .arg(fixture("validate/openai-faulty.jsonl"));
    let out = run(c);
    assert_eq!(code(&out), 1);
    let (diags, sums) = parse(&out.stdout);
    assert_eq!(diags, expected_faulty());
    assert_eq!(sums.len(), 1);
    let s = &sums[0];
    assert_eq!(
        (s.lines, s.errors, s.ok, s.provider.as_deref()),
        (16, 16, false, Some("openai"))
    );
});

bktest!(the_same_findings_through_every_input_path, |dir| {
    let data = std::fs::read(fixture("validate/openai-faulty.jsonl")).unwrap();
    let z = dir.write("f.bin", zstd::encode_all(&data[..], 3).unwrap());
    let plain = dir.write("f.jsonl", &data);
    let strip_file = |out: &std::process::Output| {
        let (d, s) = parse(&out.stdout);
        (
            d,
            s.iter()
                .map(|s| (s.lines, s.bytes, s.errors))
                .collect::<Vec<_>>(),
        )
    };
    let mut base = dir.cmd();
    base.args(["--format", "json", "validate"]).arg(&plain);
    let want = strip_file(&run(base));
    assert_eq!(want.0, expected_faulty());
    let mut zc = dir.cmd();
    zc.args(["--format", "json", "validate"]).arg(&z);
    assert_eq!(strip_file(&run(zc)), want, "zstd");
    let mut sc = dir.cmd();
    sc.args(["--format", "json", "validate", "-"]);
    assert_eq!(strip_file(&run_with_stdin(sc, &data)), want, "stdin");
    for chunk in ["1", "7", "64"] {
        let mut tc = dir.cmd();
        tc.args(["--format", "json", "--chunk-size", chunk, "validate"])
            .arg(&plain);
        assert_eq!(strip_file(&run(tc)), want, "chunk size {chunk}");
    }
});

bktest!(threads_do_not_change_a_byte, |dir| {
    let mut big = String::new();
    for i in 0..20_000 {
        let id = if i % 997 == 0 { 5 } else { i };
        big.push_str(&format!(
            "{{\"custom_id\":\"r{id}\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"gpt-{}\",\"messages\":[]}}}}\n",
            i % 3000 == 0
        ));
        if i % 4444 == 0 {
            big.push_str("{oops\n");
        }
    }
    let p = dir.write("big.jsonl", big);
    let outs: Vec<Vec<u8>> = ["1", "4"]
        .iter()
        .map(|t| {
            let mut c = dir.cmd();
            c.args([
                "--format",
                "json",
                "--chunk-size",
                "4KiB",
                "--threads",
                t,
                "validate",
            ])
            .arg(&p);
            let o = run(c);
            assert_eq!(code(&o), 1);
            o.stdout
        })
        .collect();
    assert_eq!(outs[0], outs[1]);
    let (diags, _) = parse(&outs[0]);
    assert!(diags.iter().filter(|d| d.0 == "duplicate_id").count() >= 20);
    assert!(diags.iter().any(|d| d.0 == "model_mismatch"));
});

bktest!(anthropic_gemini_vertex_auto_detected, |dir| {
    let a = dir.write(
        "a.jsonl",
        "{\"custom_id\":\"a-1\",\"params\":{\"model\":\"claude-x\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}}\n{\"custom_id\":\"a 2\",\"params\":{\"model\":\"claude-y\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}}\n",
    );
    let g = dir.write(
        "g.jsonl",
        "{\"key\":\"k1\",\"request\":{\"contents\":[]}}\n{\"key\":\"k1\",\"request\":{}}\n",
    );
    let v = dir.write("v.jsonl", "{\"request\":{\"contents\":[]}}\n");
    let mut c = dir.cmd();
    c.args(["--format", "json", "validate"]).args([&a, &g, &v]);
    let out = run(c);
    assert_eq!(code(&out), 1);
    let (diags, sums) = parse(&out.stdout);
    assert_eq!(
        diags,
        vec![
            ("invalid_custom_id".to_string(), Some(2)),
            ("missing_field".to_string(), Some(2)),
            ("duplicate_id".to_string(), Some(2)),
        ]
    );
    let providers: Vec<_> = sums.iter().map(|s| s.provider.clone()).collect();
    assert_eq!(
        providers,
        vec![
            Some("anthropic".into()),
            Some("gemini".into()),
            Some("vertex".into()),
            None
        ],
        "three file summaries and an overall one"
    );
    assert_eq!(sums[3].file, None);
    assert_eq!(sums[3].errors, 3);
});

bktest!(schema_violations_name_the_pointer, |dir| {
    let schema = dir.write(
        "s.json",
        r#"{"type":"object","properties":{"body":{"type":"object","properties":{"temperature":{"type":"number","maximum":1}}}}}"#,
    );
    let f = dir.write(
        "f.jsonl",
        "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"m\",\"messages\":[],\"temperature\":3}}\n",
    );
    let mut c = dir.cmd();
    c.args(["--format", "json", "validate", "--schema"])
        .arg(&schema)
        .arg(&f);
    let out = run(c);
    assert_eq!(code(&out), 1);
    let v = json_lines(&out);
    assert_eq!(v[0]["code"], "schema_violation");
    assert_eq!(v[0]["pointer"], "/body/temperature");
    assert_eq!(v[0]["custom_id"], "a");
});

bktest!(long_lines_and_boms_and_caps, |dir| {
    let long = format!(
        "\u{feff}{{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"m\",\"messages\":[{{\"role\":\"user\",\"content\":\"{}\"}}]}}}}\r\nnot json\r\n",
        "x".repeat(5000)
    );
    let second = long.find("not json").unwrap();
    let f = dir.write("f.jsonl", long);
    let mut c = dir.cmd();
    c.args([
        "--format",
        "json",
        "--max-line-bytes",
        "1000",
        "validate",
        "--provider",
        "azure",
    ])
    .arg(&f);
    let out = run(c);
    assert_eq!(code(&out), 1);
    let (diags, sums) = parse(&out.stdout);
    assert_eq!(
        diags,
        vec![
            ("line_too_large".to_string(), Some(1)),
            ("invalid_json".to_string(), Some(2)),
            ("empty_file".to_string(), None)
        ]
    );
    assert_eq!(sums[0].lines, 2);
    let v = json_lines(&out);
    assert_eq!(
        v[1]["offset"], second as u64,
        "offset counts the BOM and CRLF bytes"
    );
    assert!(v[0]["message"]
        .as_str()
        .unwrap()
        .contains("over --max-line-bytes"));

    // 50,001 small requests: over OpenAI's request cap, and the message says how many shards.
    let mut many = String::new();
    for i in 0..50_001 {
        many.push_str(&format!(
            "{{\"custom_id\":\"{i}\",\"method\":\"POST\",\"url\":\"/v1/embeddings\",\"body\":{{\"model\":\"e\",\"input\":\"x\"}}}}\n"
        ));
    }
    let m = dir.write("many.jsonl", many);
    let mut c = dir.cmd();
    c.args(["--format", "json", "validate"]).arg(&m);
    let out = run(c);
    assert_eq!(code(&out), 1);
    let v = json_lines(&out);
    assert_eq!(v[0]["code"], "too_many_requests");
    assert_eq!(v[0]["line"], serde_json::Value::Null);
    assert!(
        v[0]["message"]
            .as_str()
            .unwrap()
            .contains("would make 2 files"),
        "{}",
        v[0]["message"]
    );
});

bktest!(human_output_and_max_errors, |dir| {
    let mut c = dir.cmd();
    c.args(["--format", "human", "validate", "--max-errors", "2"])
        .arg(fixture("validate/openai-faulty.jsonl"));
    let out = run(c);
    assert_eq!(code(&out), 1);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("error[invalid_json]: "), "{text}");
    assert!(text.contains("openai-faulty.jsonl:2:"), "{text}");
    assert_eq!(text.matches("error[").count(), 2, "{text}");
    assert!(text.contains("14 more findings not shown"), "{text}");
    assert!(text.contains("16 errors"), "{text}");
});

bktest!(unreadable_input_exits_2_but_checks_the_rest, |dir| {
    let mut c = dir.cmd();
    c.args(["--format", "json", "validate", "missing.jsonl"])
        .arg(fixture("validate/openai-valid.jsonl"));
    let out = run(c);
    assert_eq!(code(&out), 2);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first = stdout.lines().next().unwrap();
    let e: batchkit_report::ErrorEvent = serde_json::from_str(first).unwrap();
    assert_eq!(e.file, "missing.jsonl");
    // The cause is said once.
    assert_eq!(
        e.message.matches("No such file").count(),
        1,
        "{}",
        e.message
    );
    let (_, sums) = parse(&out.stdout);
    assert!(sums.iter().any(|s| s.ok && s.lines == 5));
    assert!(sums
        .iter()
        .any(|s| !s.ok && s.file.as_deref() == Some("missing.jsonl")));
    let overall = sums.last().unwrap();
    assert!(overall.file.is_none() && !overall.ok);
    // People read it once on stderr.
    let mut c = dir.cmd();
    c.args(["--format", "human", "validate", "missing.jsonl"]);
    let out = run(c);
    assert_eq!(code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
    let mut c = dir.cmd();
    c.args(["validate", "--provider", "nope"])
        .arg(fixture("validate/openai-valid.jsonl"));
    assert_eq!(code(&run(c)), 2);
});

bktest!(valid_fixture_is_clean, |dir| {
    let mut c = dir.cmd();
    c.args(["--format", "json", "validate"])
        .arg(fixture("validate/openai-valid.jsonl"));
    let out = run(c);
    assert_eq!(code(&out), 0);
    let (d, s) = parse(&out.stdout);
    assert!(d.is_empty());
    let codes: BTreeSet<_> = s.iter().map(|s| s.ok).collect();
    assert_eq!(codes, BTreeSet::from([true]));
});

bktest!(
    blank_lines_at_the_end_are_a_warning_between_requests_an_error,
    |dir| {
        for (f, code_want, sev) in [
            ("real/openai-trailing-blank.jsonl", 0, "warning"),
            ("real/openai-trailing-blank-crlf.jsonl", 0, "warning"),
            ("real/openai-blank-between.jsonl", 1, "error"),
        ] {
            let mut c = dir.cmd();
            c.args(["--format", "json", "validate"]).arg(fixture(f));
            let out = run(c);
            assert_eq!(code(&out), code_want, "{f}");
            let events = crate::util::json_lines(&out);
            let d: Vec<_> = events
                .iter()
                .filter(|e| e["type"] == "diagnostic")
                .collect();
            assert_eq!(d.len(), 1, "{f}: {events:?}");
            assert_eq!(
                (d[0]["code"].as_str(), d[0]["severity"].as_str()),
                (Some("empty_line"), Some(sev)),
                "{f}"
            );
            // shard agrees: trailing blank lines do not stop it, blank lines between requests do.
            let out_dir = dir.join(&format!("out-{}", f.replace('/', "-")));
            let mut c = dir.cmd();
            c.args(["--format", "json", "shard"])
                .arg(fixture(f))
                .arg("--out-dir")
                .arg(&out_dir);
            let out = run(c);
            assert_eq!(code(&out), code_want, "shard {f}");
            assert_eq!(
                out_dir.join("manifest.json").exists(),
                code_want == 0,
                "shard {f}"
            );
        }
    }
);

/// (code, line, JSON pointer) of an expected finding.
type Finding<'a> = (&'a str, u64, &'a str);

bktest!(
    run_time_failures_are_caught_and_embeddings_accepted,
    |dir| {
        let cases: &[(&str, &str, &[Finding<'_>])] = &[
            (
                "real/anthropic-run-time-failures.jsonl",
                "anthropic",
                &[
                    ("unsupported_value", 2, "/params/messages"),
                    ("unsupported_value", 3, "/params/stream"),
                ],
            ),
            (
                "real/gemini-system-role.jsonl",
                "gemini",
                &[("unsupported_value", 2, "/request/contents/0/role")],
            ),
            ("real/gemini-embeddings.jsonl", "gemini", &[]),
            (
                "real/openai-stream.jsonl",
                "openai",
                &[("unsupported_value", 1, "/body/stream")],
            ),
        ];
        for (f, provider, want) in cases {
            for p in ["auto", provider] {
                let mut c = dir.cmd();
                c.args(["--format", "json", "validate", "--provider", p])
                    .arg(fixture(f));
                let out = run(c);
                let events = crate::util::json_lines(&out);
                let got: Vec<(String, u64, String)> = events
                    .iter()
                    .filter(|e| e["type"] == "diagnostic")
                    .map(|e| {
                        (
                            e["code"].as_str().unwrap().to_string(),
                            e["line"].as_u64().unwrap(),
                            e["pointer"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect();
                let want: Vec<(String, u64, String)> = want
                    .iter()
                    .map(|(c, l, p)| (c.to_string(), *l, p.to_string()))
                    .collect();
                assert_eq!(got, want, "{f} --provider {p}");
                assert_eq!(code(&out), i32::from(!want.is_empty()), "{f}");
            }
        }
    }
);

bktest!(
    auto_infers_the_provider_from_endpoints_and_names_result_files,
    |dir| {
        for (f, provider) in [
            ("real/azure-deployment.jsonl", "azure"),
            ("real/groq-mixed.jsonl", "groq"),
        ] {
            let mut c = dir.cmd();
            c.args(["--format", "json", "validate"]).arg(fixture(f));
            let out = run(c);
            assert_eq!(
                code(&out),
                0,
                "{f}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
            let (d, s) = parse(&out.stdout);
            assert!(d.is_empty(), "{f}: {d:?}");
            assert_eq!(s[0].provider.as_deref(), Some(provider), "{f}");
        }
        // A body-style file fits Mistral and Together: both are named.
        let mut c = dir.cmd();
        c.args(["--format", "json", "validate"])
            .arg(fixture("real/together-body.jsonl"));
        let out = run(c);
        assert_eq!(code(&out), 0);
        let (_, s) = parse(&out.stdout);
        assert_eq!(s[0].candidates, ["mistral", "together"]);
        // Under the wrong provider the message says which one serves the endpoint.
        let mut c = dir.cmd();
        c.args(["--format", "json", "validate", "--provider", "openai"])
            .arg(fixture("real/azure-deployment.jsonl"));
        let out = run(c);
        assert_eq!(code(&out), 1);
        let first = crate::util::json_lines(&out).remove(0);
        assert_eq!(first["code"], "unsupported_url");
        assert!(first["message"]
            .as_str()
            .unwrap()
            .contains("--provider azure"));
        // A result file is named as one, once.
        let mut c = dir.cmd();
        c.args(["--format", "json", "validate"])
            .arg(fixture("real/openai-output.jsonl"));
        let out = run(c);
        assert_eq!(code(&out), 1);
        let events = crate::util::json_lines(&out);
        let msgs: Vec<&str> = events
            .iter()
            .filter(|e| e["type"] == "diagnostic")
            .map(|e| e["message"].as_str().unwrap())
            .collect();
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert!(msgs.iter().all(|m| m.contains("batchkit join")), "{msgs:?}");
    }
);
