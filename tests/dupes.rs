//! `batchkit dupes` end to end.

use proptest::prelude::*;

use crate::util::{code, run, run_with_stdin, Dir};

fn line(id: &str, n: usize) -> String {
    format!("{{\"custom_id\":\"{id}\",\"body\":{{\"n\":{n}}}}}\n")
}

fn parse(stdout: &[u8]) -> (Vec<Dup>, DSummary) {
    parse_all(stdout).0
}

/// Duplicates, summary, and the diagnostics about lines without an id (validate's event),
/// each in the schema declared below.
fn parse_all(
    stdout: &[u8],
) -> (
    (Vec<Dup>, DSummary),
    Vec<batchkit_report::validate::DiagnosticEvent<'static>>,
) {
    let text = String::from_utf8_lossy(stdout);
    let mut lines: Vec<&str> = text.lines().collect();
    let summary = match serde_json::from_str(lines.pop().expect("a summary")) {
        Ok(DEvent::Summary(s)) => s,
        other => panic!("not a strict summary: {other:?}"),
    };
    // One file record per input, before the summary.
    lines.retain(|l| match l.starts_with("{\"type\":\"file\"") {
        true => {
            assert!(matches!(crate::util::strict::<DEvent>(l), DEvent::File(_)));
            false
        }
        false => true,
    });
    let (diags, dups): (Vec<&str>, Vec<&str>) = lines
        .iter()
        .partition(|l| l.starts_with("{\"type\":\"diagnostic\""));
    let dups = dups
        .iter()
        .map(|l| match serde_json::from_str(l) {
            Ok(DEvent::Duplicate(d)) => d,
            other => panic!("not a strict duplicate: {other:?}"),
        })
        .collect();
    let diags = diags
        .iter()
        .map(|l| {
            serde_json::from_str(Box::leak(l.to_string().into_boxed_str()))
                .expect("strict diagnostic")
        })
        .collect();
    ((dups, summary), diags)
}

bktest!(across_files_with_all_lines, |dir| {
    let a = dir.write(
        "a.jsonl",
        [line("x", 1), line("y", 2), line("x", 3)].concat(),
    );
    let b = dir.write(
        "b.jsonl",
        [line("z", 1), line("y", 2), "garbage\n".into()].concat(),
    );
    let mut c = dir.cmd();
    c.args(["--format", "json", "dupes"]).args([&a, &b]);
    let out = run(c);
    assert_eq!(code(&out), 1);
    let ((d, s), diags) = parse_all(&out.stdout);
    // The line without an id says why, in validate's words, naming its file and line.
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, batchkit_validate::Code::InvalidJson);
    assert_eq!(
        (diags[0].file.as_ref(), diags[0].line),
        (b.to_str().unwrap(), Some(3))
    );
    assert_eq!(d.len(), 2);
    assert_eq!(
        (d[0].custom_id.as_str(), d[0].lines.clone()),
        ("x", vec![1, 3])
    );
    assert_eq!(d[1].custom_id, "y");
    assert_eq!(d[1].lines, vec![2, 2]);
    assert!(d[1].files[0].ends_with("a.jsonl") && d[1].files[1].ends_with("b.jsonl"));
    assert_eq!(
        (
            s.ids,
            s.without_id,
            s.duplicate_ids,
            s.duplicate_lines,
            s.ok
        ),
        (5, 1, 2, 2, false)
    );
});

/// Runs dupes with --write-unique under a memory limit; returns (stdout, unique bytes).
fn dupes_unique(dir: &Dir, input: &[u8], limit: &str, stdin: bool) -> (Vec<u8>, Vec<u8>) {
    let p = dir.write("in.jsonl", input);
    let out_path = dir.join("unique.jsonl");
    let _ = std::fs::remove_file(&out_path);
    let mut c = dir.cmd();
    c.args([
        "--format",
        "json",
        "dupes",
        "--table-limit",
        limit,
        "--temp-dir",
    ])
    .arg(dir.path())
    .arg("--write-unique")
    .arg(&out_path);
    let out = if stdin {
        c.arg("-");
        run_with_stdin(c, input)
    } else {
        c.arg(&p);
        run(c)
    };
    assert!(code(&out) <= 1, "{}", String::from_utf8_lossy(&out.stderr));
    (out.stdout, std::fs::read(&out_path).unwrap())
}

fn naive_unique(input: &str) -> (Vec<(String, Vec<u64>)>, String) {
    let mut seen: Vec<(String, Vec<u64>)> = Vec::new();
    let mut unique = String::new();
    for (i, l) in input.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let id = v["custom_id"].as_str().unwrap().to_string();
        match seen.iter_mut().find(|(s, _)| *s == id) {
            Some((_, lines)) => lines.push(i as u64 + 1),
            None => {
                seen.push((id, vec![i as u64 + 1]));
                unique.push_str(l);
                unique.push('\n');
            }
        }
    }
    (
        seen.into_iter().filter(|(_, l)| l.len() > 1).collect(),
        unique,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn agrees_with_a_naive_set_in_memory_and_spilled(ids in proptest::collection::vec(0u16..400, 1..1500)) {
        let input: String = ids.iter().enumerate().map(|(n, i)| line(&format!("id-{i}"), n)).collect();
        let (want_dups, want_unique) = naive_unique(&input);
        let dir = Dir::new();
        for limit in ["1GiB", "4KiB"] {
            let (stdout, unique) = dupes_unique(&dir, input.as_bytes(), limit, false);
            let (d, s) = parse(&stdout);
            let got: Vec<(String, Vec<u64>)> = d.into_iter().map(|d| (d.custom_id, d.lines)).collect();
            prop_assert_eq!(&got, &want_dups);
            let distinct = ids.iter().collect::<std::collections::BTreeSet<_>>().len();
            if limit == "1GiB" || distinct > 200 {
                prop_assert_eq!(s.spilled, limit == "4KiB");
            }
            prop_assert_eq!(String::from_utf8(unique).unwrap(), want_unique.clone());
        }
    }
}

bktest!(spilled_stdin_with_write_unique_keeps_bytes, |dir| {
    let mut input = String::new();
    for i in 0..5000 {
        input.push_str(&line(&format!("k{}", i % 4000), i).replace('\n', "\r\n"));
    }
    input.push_str("{\"custom_id\":\"k1\"}"); // a duplicate without a final newline
    let (stdout, unique) = dupes_unique(&dir, input.as_bytes(), "8KiB", true);
    let (d, s) = parse(&stdout);
    assert!(s.spilled);
    assert_eq!(d.len(), 1000);
    assert_eq!(s.duplicate_lines, 1001);
    let want: String = input.split_inclusive('\n').take(4000).collect();
    assert_eq!(String::from_utf8(unique).unwrap(), want);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
});

bktest!(no_duplicates_exits_0_and_human_says_so, |dir| {
    let a = dir.write("a.jsonl", [line("x", 1), line("y", 2)].concat());
    let mut c = dir.cmd();
    c.args(["--format", "human", "dupes"]).arg(&a);
    let out = run(c);
    assert_eq!(code(&out), 0);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(
        "no duplicate ids: 2 lines with an id, 2 distinct, of 2 lines; 0 ids used more than once"
    ));
});

bktest!(
    human_summary_counts_lines_with_an_id_and_distinct_ids,
    |dir| {
        // 5 lines: 4 with an id (x three times, y once), 1 without.
        let a = dir.write(
            "a.jsonl",
            [
                line("x", 1),
                line("y", 2),
                line("x", 3),
                "garbage\n".into(),
                line("x", 4),
            ]
            .concat(),
        );
        let mut c = dir.cmd();
        c.args(["--format", "human", "dupes"]).arg(&a);
        let out = run(c);
        assert_eq!(code(&out), 1);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
        text.contains(
            "duplicates found: 4 lines with an id, 2 distinct, of 5 lines; 1 id used more than once, 2 repeated lines; 1 line without an id"
        ),
        "{text}"
    );
    }
);

bktest!(an_unreadable_input_does_not_stop_the_others, |dir| {
    let a = dir.write("a.jsonl", [line("x", 1), line("y", 2)].concat());
    let b = dir.write("b.jsonl", [line("x", 3), line("z", 4)].concat());
    let mut c = dir.cmd();
    c.args(["--format", "json", "dupes"])
        .arg(&a)
        .arg("missing.jsonl")
        .arg(&b);
    let out = run(c);
    // As validate and tokens: the job is done for the readable inputs, and exit 2 says one
    // could not be read.
    assert_eq!(code(&out), 2, "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    let errors: Vec<batchkit_report::ErrorEvent> = lines
        .iter()
        .filter(|l| l.starts_with("{\"type\":\"error\""))
        .map(|l| serde_json::from_str(l).expect("strict error event"))
        .collect();
    assert_eq!(errors.len(), 1, "{text}");
    assert_eq!(errors[0].file, "missing.jsonl");
    assert!(errors[0].message.contains("missing.jsonl"), "{errors:?}");
    let rest: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.starts_with("{\"type\":\"error\""))
        .collect();
    let (d, s) = parse(rest.join("\n").as_bytes());
    assert_eq!(d.len(), 1, "{text}");
    assert_eq!(d[0].custom_id, "x");
    assert_eq!(d[0].lines, vec![1, 1]);
    assert_eq!(
        d[0].files,
        vec![a.display().to_string(), b.display().to_string()]
    );
    assert_eq!((s.lines, s.ids, s.duplicate_ids), (4, 4, 1));
    assert!(!s.ok);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("missing.jsonl").count(), 1, "{stderr}");

    // Human: the duplicates and the summary on stdout, the error once on stderr.
    let mut c = dir.cmd();
    c.args(["--format", "human", "dupes"])
        .arg(&a)
        .arg("missing.jsonl")
        .arg(&b);
    let out = run(c);
    assert_eq!(code(&out), 2);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("duplicate \"x\" used 2 times"), "{text}");
    assert!(
        text.contains("duplicates found: 4 lines with an id"),
        "{text}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: missing.jsonl"), "{stderr}");

    // With --write-unique the unique copy would lack the input: the run stops, writes nothing.
    let mut c = dir.cmd();
    c.args(["--format", "json", "dupes"])
        .arg(&a)
        .arg("missing.jsonl")
        .args(["--write-unique", "u.jsonl"]);
    let out = run(c);
    assert_eq!(code(&out), 2);
    assert!(!dir.join("u.jsonl").exists());
});

// ---- The JSON Lines schema, redeclared and locked (see `util::strict`). ----

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct Dup {
    custom_id: String,
    lines: Vec<u64>,
    files: Vec<String>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct DSummary {
    files: u64,
    lines: u64,
    ids: u64,
    without_id: u64,
    too_large_lines: u64,
    duplicate_ids: u64,
    duplicate_lines: u64,
    unique_lines: Option<u64>,
    spilled: bool,
    ok: bool,
    error: Option<crate::validate::RunError>,
}

/// One input's counts.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct DFile {
    file: String,
    lines: u64,
    ids: u64,
    without_id: u64,
    too_large_lines: u64,
    ok: bool,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum DEvent {
    Duplicate(Dup),
    Diagnostic(crate::validate::Diag),
    File(DFile),
    Summary(DSummary),
    Error(crate::validate::InputError),
}

bktest!(every_event_fits_the_declared_schema, |dir| {
    let fixtures = crate::validate::all_jsonl_fixtures();
    for (k, args) in [
        fixtures.clone(),
        vec![crate::util::fixture("validate/openai-faulty.jsonl")],
        vec![crate::util::fixture("shard/mixed-crlf.jsonl")],
    ]
    .iter()
    .enumerate()
    {
        for limit in ["1GiB", "1"] {
            let mut c = dir.cmd();
            c.args(["--format", "json", "dupes"])
                .args(args)
                .args(["--table-limit", limit, "--write-unique"])
                .arg(dir.join(&format!("u{k}{limit}.jsonl")));
            let out = run(c);
            assert_eq!(code(&out), 1, "{args:?}");
            let events: Vec<DEvent> = crate::util::strict_lines(&out);
            let Some(DEvent::Summary(s)) = events.last() else {
                panic!("no summary last");
            };
            assert_eq!(s.files as usize, args.len());
            assert_eq!(s.spilled, limit == "1");
            // One file record per input, summing to the summary.
            let files: Vec<&DFile> = events
                .iter()
                .filter_map(|e| match e {
                    DEvent::File(f) => Some(f),
                    _ => None,
                })
                .collect();
            assert_eq!(files.len(), args.len());
            assert_eq!(files.iter().map(|f| f.lines).sum::<u64>(), s.lines);
            assert_eq!(
                files.iter().map(|f| f.without_id).sum::<u64>(),
                s.without_id
            );
            // `ok` is false exactly when an error was printed.
            let printed_error = events.iter().any(|e| match e {
                DEvent::Duplicate(_) | DEvent::Error(_) => true,
                DEvent::Diagnostic(d) => format!("{:?}", d.severity) == "Error",
                _ => false,
            });
            assert_eq!(s.ok, !printed_error);
            let dups: Vec<&Dup> = events
                .iter()
                .filter_map(|e| match e {
                    DEvent::Duplicate(d) => Some(d),
                    _ => None,
                })
                .collect();
            assert_eq!(dups.len() as u64, s.duplicate_ids);
            assert_eq!(
                dups.iter().map(|d| d.lines.len() as u64 - 1).sum::<u64>(),
                s.duplicate_lines
            );
            for d in &dups {
                assert_eq!(d.lines.len(), d.files.len());
                assert!(d.lines.len() >= 2);
            }
            let diags = events
                .iter()
                .filter(|e| matches!(e, DEvent::Diagnostic(_)))
                .count() as u64;
            assert!(
                diags >= 1 && diags <= s.without_id,
                "{diags} {}",
                s.without_id
            );
            assert_eq!(s.unique_lines, Some(s.lines - s.duplicate_lines));
        }
    }
});

bktest!(ids_follow_the_one_id_rule, |dir| {
    // Under auto each line's id is where its shape keeps it (styles.toml): a Vertex line's
    // echoed `metadata.key` or `key`, and for a line of no known shape the first id field of
    // any shape (`recordId` here), as the join matches them. dupes used to look for
    // `custom_id` in all of these and report it missing.
    let a = dir.write(
        "a.jsonl",
        "{\"metadata\":{\"key\":\"m\"},\"request\":{}}\n\
         {\"recordId\":\"r\"}\n\
         {\"request\":{},\"metadata\":{\"key\":\"m\"}}\n\
         {\"recordId\":\"r\",\"note\":1}\n\
         {\"request\":{}}\n",
    );
    let mut c = dir.cmd();
    c.args(["--format", "json", "dupes"]).arg(&a);
    let out = run(c);
    assert_eq!(code(&out), 1);
    let ((d, s), diags) = parse_all(&out.stdout);
    let ids: Vec<(&str, &[u64])> = d
        .iter()
        .map(|g| (g.custom_id.as_str(), g.lines.as_slice()))
        .collect();
    assert_eq!(ids, [("m", &[1u64, 3][..]), ("r", &[2, 4][..])]);
    assert_eq!(s.duplicate_ids, 2);
    // A Vertex line without any id is named by the field the other shapes use.
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, batchkit_validate::Code::MissingField);
    assert_eq!(diags[0].line, Some(5));
    // A named provider reads its shape's fields only: no `custom_id` for Bedrock.
    let b = dir.write(
        "b.jsonl",
        "{\"custom_id\":\"x\",\"modelInput\":{}}\n{\"custom_id\":\"x\",\"modelInput\":{}}\n",
    );
    let mut c = dir.cmd();
    c.args(["--format", "json", "dupes", "--provider", "bedrock"])
        .arg(&b);
    let ((d, _), diags) = parse_all(&run(c).stdout);
    assert!(d.is_empty());
    assert_eq!(diags.len(), 2);
    assert_eq!(diags[0].pointer.as_deref(), Some("/recordId"));
    // Vertex lines need no id but echo one they carry: `--provider vertex` checks those (it
    // used to refuse: "Vertex AI requests have no id field").
    let v = dir.write(
        "v.jsonl",
        "{\"custom_id\":\"e\",\"request\":{}}\n{\"key\":\"e\",\"request\":{}}\n",
    );
    let mut c = dir.cmd();
    c.args(["--format", "json", "dupes", "--provider", "vertex"])
        .arg(&v);
    let out = run(c);
    assert_eq!(code(&out), 1);
    let ((d, _), diags) = parse_all(&out.stdout);
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].custom_id.as_str(), d[0].lines.as_slice()),
        ("e", &[1u64, 2][..])
    );
    assert!(diags.is_empty());
});

// dupes passes its duplicates on only once every input is read (and, spilled, the id set is
// finished), so the progress lines of `--progress always` on a stderr that is a file reach
// the end although the first duplicate printed ends them.
bktest!(progress_lines_reach_the_end_before_the_duplicates, |dir| {
    let data: String = (0..3000)
        .map(|i| line(&format!("r{}", i % 2000), i))
        .collect();
    let a = dir.write("a.jsonl", &data);
    for limit in ["1GiB", "1"] {
        let log = dir.join(&format!("progress-{limit}.log"));
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_batchkit"));
        c.current_dir(dir.path())
            .args(["--progress", "always", "--format", "json", "dupes"])
            .arg(&a)
            .args(["--table-limit", limit])
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        let out = c.output().unwrap();
        assert_eq!(code(&out), 1);
        let (d, s) = parse(&out.stdout);
        assert_eq!(
            (d.len(), s.duplicate_ids, s.spilled),
            (1000, 1000, limit == "1")
        );
        let text = std::fs::read_to_string(&log).unwrap();
        let last = text.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("dupes: ") && last.contains("(100%)"),
            "{limit}: {text}"
        );
    }
});

bktest!(
    a_line_too_large_is_a_finding_in_json_as_in_human_output,
    |dir| {
        let big = format!(
            "{{\"custom_id\":\"a\",\"body\":{{\"x\":\"{}\"}}}}\n",
            "y".repeat(300)
        );
        dir.write("big.jsonl", big + "{\"custom_id\":\"b\",\"body\":{}}\n");
        let mut c = dir.cmd();
        c.args([
            "--max-line-bytes",
            "100",
            "--format",
            "json",
            "dupes",
            "big.jsonl",
        ]);
        let o = run(c);
        assert_eq!(code(&o), 1);
        let lines = crate::util::json_lines(&o);
        let d: Vec<&serde_json::Value> =
            lines.iter().filter(|l| l["type"] == "diagnostic").collect();
        assert_eq!(d.len(), 1, "{lines:?}");
        assert_eq!(
            (&d[0]["code"], &d[0]["file"], &d[0]["line"]),
            (
                &serde_json::json!("line_too_large"),
                &serde_json::json!("big.jsonl"),
                &serde_json::json!(1)
            )
        );
        let last = lines.last().unwrap();
        assert_eq!(
            (&last["type"], &last["ok"]),
            (&serde_json::json!("summary"), &serde_json::json!(false))
        );
    }
);
