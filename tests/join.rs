//! `batchkit join` end to end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{code, fixture, json_lines, run, Dir};

/// Runs join with `--format json` and returns (exit code, stdout events, merged lines).
fn join(
    dir: &Dir,
    req: &[PathBuf],
    res: &[PathBuf],
    extra: &[&str],
) -> (i32, Vec<Value>, Vec<Value>) {
    let mut c = dir.cmd();
    c.args(["--format", "json", "join", "--requests"])
        .args(req)
        .arg("--results")
        .args(res);
    c.arg("--out").arg(dir.join("merged.jsonl")).args(extra);
    let out = run(c);
    let events = json_lines(&out);
    let merged = std::fs::read_to_string(dir.join("merged.jsonl"))
        .map(|s| {
            s.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        })
        .unwrap_or_default();
    (code(&out), events, merged)
}

fn statuses(merged: &[Value]) -> Vec<(String, String)> {
    merged
        .iter()
        .map(|l| {
            (
                l["custom_id"].as_str().unwrap_or("<none>").to_string(),
                l["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn f(name: &str) -> PathBuf {
    fixture(&format!("join/{name}"))
}

fn lines_of(p: &Path) -> Vec<Vec<u8>> {
    std::fs::read(p)
        .unwrap()
        .split_inclusive(|&b| b == b'\n')
        .map(|l| l.to_vec())
        .collect()
}

bktest!(openai_output_and_error_files, |dir| {
    let (c, events, merged) = join(
        &dir,
        &[f("openai_requests.jsonl")],
        &[f("openai_output.jsonl"), f("openai_errors.jsonl")],
        &["--retry", "retry.jsonl", "--orphans", "orphans.jsonl"],
    );
    assert_eq!(c, 1);
    assert_eq!(
        statuses(&merged),
        pairs(&[
            ("request-1", "succeeded"),
            ("request-2", "errored"),
            ("request-3", "expired"),
            ("request-4", "missing"),
            ("request-5", "succeeded"),
            // Line 6 is not JSON: reported, no merged line.
            ("request-7", "canceled"),
            ("<none>", "missing"),
        ])
    );
    // The succeeded result wins over the later expired one for request-1.
    assert_eq!(merged[0]["output_text"], "Hello.");
    assert_eq!(merged[4]["output_text"], "Café au lait.");
    assert_eq!(merged[6]["problem"], "missing_field");
    // Retry: the request lines that did not succeed, byte-exact (CRLF of line 2 kept), but
    // not line 6, which is not JSON, nor line 8, which has no id (neither can be sent again).
    let req = lines_of(&f("openai_requests.jsonl"));
    let want: Vec<u8> = [1, 2, 3, 6].iter().flat_map(|&i| req[i].clone()).collect();
    assert_eq!(std::fs::read(dir.join("retry.jsonl")).unwrap(), want);
    assert!(want.windows(2).any(|w| w == b"\r\n"));
    // Orphans: request-99 (no such request) and the duplicate expired request-1, verbatim.
    let out = lines_of(&f("openai_output.jsonl"));
    let err = lines_of(&f("openai_errors.jsonl"));
    assert_eq!(
        std::fs::read(dir.join("orphans.jsonl")).unwrap(),
        [out[2].clone(), err[3].clone()].concat()
    );
    let dup = events
        .iter()
        .find(|e| e["type"] == "duplicate_result")
        .expect("duplicate event");
    assert_eq!(dup["custom_id"], "request-1");
    assert_eq!(dup["kept"]["line"], 2);
    assert_eq!(dup["dropped"]["line"], 4);
    assert!(dup["dropped"]["file"]
        .as_str()
        .unwrap()
        .ends_with("openai_errors.jsonl"));
    let diag: Vec<_> = events
        .iter()
        .filter(|e| e["type"] == "diagnostic")
        .collect();
    assert_eq!(
        (diag[0]["code"].as_str(), diag[0]["line"].as_u64()),
        (Some("invalid_json"), Some(6))
    );
    assert_eq!(
        (diag[1]["code"].as_str(), diag[1]["line"].as_u64()),
        (Some("missing_field"), Some(8))
    );
    let s = events.last().unwrap();
    assert_eq!(s["type"], "summary");
    assert_eq!(
        (
            s["succeeded"].as_u64(),
            s["missing"].as_u64(),
            s["orphans"].as_u64()
        ),
        (Some(2), Some(2), Some(1))
    );
    assert_eq!(
        (
            s["requests"].as_u64(),
            s["invalid_requests"].as_u64(),
            s["to_retry"].as_u64()
        ),
        // Line 8 has no id: not retried.
        (Some(7), Some(1), Some(4))
    );
    assert_eq!(
        (
            s["duplicates"].as_u64(),
            s["joined"].as_u64(),
            s["results"].as_u64()
        ),
        (Some(1), Some(5), Some(7))
    );
    assert_eq!(s["usage"]["input_tokens"], 66);
    assert_eq!(s["usage"]["output_tokens"], 6);
});

bktest!(duplicates_file_takes_the_losers, |dir| {
    let (_, _, _) = join(
        &dir,
        &[f("openai_requests.jsonl")],
        &[f("openai_output.jsonl"), f("openai_errors.jsonl")],
        &["--orphans", "orphans.jsonl", "--duplicates", "dups.jsonl"],
    );
    let out = lines_of(&f("openai_output.jsonl"));
    let err = lines_of(&f("openai_errors.jsonl"));
    assert_eq!(std::fs::read(dir.join("orphans.jsonl")).unwrap(), out[2]);
    assert_eq!(std::fs::read(dir.join("dups.jsonl")).unwrap(), err[3]);
});

bktest!(anthropic_results, |dir| {
    let (c, _, merged) = join(
        &dir,
        &[f("anthropic_requests.jsonl")],
        &[f("anthropic_results.jsonl")],
        &[],
    );
    assert_eq!(c, 1);
    assert_eq!(
        statuses(&merged),
        pairs(&[
            ("my-request-1", "errored"),
            ("my-request-2", "succeeded"),
            ("my-request-3", "canceled"),
            ("my-request-4", "expired"),
            ("my-request-5", "missing"),
        ])
    );
    assert!(merged[1]["output_text"]
        .as_str()
        .unwrap()
        .starts_with("Hello again!"));
});

bktest!(gemini_results, |dir| {
    let (_, events, merged) = join(
        &dir,
        &[f("gemini_requests.jsonl")],
        &[f("gemini_results.jsonl")],
        &[],
    );
    assert_eq!(
        statuses(&merged),
        pairs(&[("request_1", "succeeded"), ("request_2", "errored")])
    );
    assert_eq!(
        merged[0]["output_text"],
        "AI learns patterns from data to make decisions or predictions."
    );
    let u = &events.last().unwrap()["usage"];
    assert_eq!(
        (
            u["input_tokens"].as_u64(),
            u["output_tokens"].as_u64(),
            u["reasoning_tokens"].as_u64()
        ),
        (Some(8), Some(840), Some(829))
    );
});

bktest!(vertex_rows_with_and_without_an_echoed_id, |dir| {
    let (c, events, merged) = join(
        &dir,
        &[f("vertex_requests.jsonl")],
        &[f("vertex_predictions.jsonl")],
        &["--orphans", "orphans.jsonl"],
    );
    assert_eq!(c, 1);
    assert_eq!(
        statuses(&merged),
        pairs(&[("v-1", "succeeded"), ("v-2", "errored")])
    );
    assert_eq!(merged[0]["output_text"], "Hello!");
    let v = events
        .iter()
        .find(|e| e["type"] == "vertex_no_id")
        .expect("vertex notice");
    // Row 3 echoes its request (joined by content, to none of these: an orphan); row 4
    // echoes none.
    assert_eq!(
        (v["line"].as_u64(), v["count"].as_u64()),
        (Some(4), Some(1))
    );
    // One row: the notice's verbs agree with it.
    let message = v["message"].as_str().unwrap();
    assert!(
        message.starts_with("1 Vertex output row carries no request id and cannot be joined"),
        "{message}"
    );
    assert!(
        message.ends_with("; it is written to the orphans file"),
        "{message}"
    );
    let rows = lines_of(&f("vertex_predictions.jsonl"));
    assert_eq!(
        std::fs::read(dir.join("orphans.jsonl")).unwrap(),
        [rows[2].clone(), rows[3].clone()].concat()
    );
    let s = events.last().unwrap();
    assert_eq!(
        (s["unjoinable"].as_u64(), s["orphans"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(s["models"][0]["model"], "gemini-2.0-flash-001");
});

bktest!(mistral_groq_together_azure_responses, |dir| {
    let (_, _, m) = join(
        &dir,
        &[f("mistral_requests.jsonl")],
        &[f("mistral_results.jsonl")],
        &[],
    );
    assert_eq!(statuses(&m), pairs(&[("0", "succeeded"), ("1", "missing")]));
    assert_eq!(m[0]["output_text"], "Camembert.");
    let (c, _, m) = join(
        &dir,
        &[f("groq_requests.jsonl")],
        &[f("groq_results.jsonl")],
        &[],
    );
    assert_eq!(
        (c, statuses(&m)),
        (0, pairs(&[("my-request-1", "succeeded")]))
    );
    let (_, _, m) = join(
        &dir,
        &[f("together_requests.jsonl")],
        &[f("together_results.jsonl")],
        &[],
    );
    assert_eq!(
        statuses(&m),
        pairs(&[("request-1", "succeeded"), ("req-1", "errored")])
    );
    let (_, _, m) = join(
        &dir,
        &[f("together_requests.jsonl")],
        &[f("azure_results.jsonl")],
        &[],
    );
    assert_eq!(m[0]["output_text"], "Hi from Azure.");
    let (c, events, m) = join(
        &dir,
        &[f("responses_requests.jsonl")],
        &[f("responses_results.jsonl")],
        &[],
    );
    assert_eq!((c, m[0]["output_text"].as_str()), (0, Some("Hello")));
    let u = &events.last().unwrap()["usage"];
    assert_eq!(
        (u["cached_tokens"].as_u64(), u["reasoning_tokens"].as_u64()),
        (Some(2), Some(30))
    );
});

/// Requests and shuffled results big enough for many chunks and spill partitions.
fn generated(dir: &Dir, n: usize) -> (PathBuf, PathBuf, PathBuf) {
    let mut req = String::new();
    let mut out = Vec::new();
    let mut err = Vec::new();
    for i in 0..n {
        let nl = if i % 7 == 0 { "\r\n" } else { "\n" };
        req.push_str(&format!(
            "{{\"custom_id\":\"req-{i}\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"gpt-4o-mini\",\"messages\":[{{\"role\":\"user\",\"content\":\"{}\"}}]}}}}{nl}",
            "q".repeat(i % 50)
        ));
        match i % 20 {
            0 => {}
            1 => err.push(format!("{{\"custom_id\":\"req-{i}\",\"response\":{{\"status_code\":400,\"body\":{{}}}},\"error\":null}}")),
            2 => err.push(format!("{{\"custom_id\":\"req-{i}\",\"response\":null,\"error\":{{\"code\":\"batch_expired\",\"message\":\"m\"}}}}")),
            _ => out.push(format!("{{\"custom_id\":\"req-{i}\",\"response\":{{\"status_code\":200,\"body\":{{\"model\":\"gpt-4o-mini\",\"choices\":[{{\"message\":{{\"content\":\"a{i}\"}}}}],\"usage\":{{\"prompt_tokens\":5,\"completion_tokens\":1}}}}}},\"error\":null}}")),
        }
    }
    out.push(
        "{\"custom_id\":\"nobody\",\"response\":{\"status_code\":200,\"body\":{}},\"error\":null}"
            .into(),
    );
    out.push(
        "{\"custom_id\":\"req-5\",\"response\":{\"status_code\":500,\"body\":{}},\"error\":null}"
            .into(),
    );
    // Shuffle by a fixed stride so the order is far from the request order.
    let shuffle = |v: &mut Vec<String>| {
        let len = v.len();
        let mut s: Vec<String> = (0..len).map(|k| v[(k * 7919) % len].clone()).collect();
        if len.is_multiple_of(7919) {
            s = v.clone();
        }
        *v = s;
    };
    shuffle(&mut out);
    shuffle(&mut err);
    (
        dir.write("req.jsonl", req),
        dir.write("out.jsonl", out.join("\n") + "\n"),
        dir.write("err.jsonl", err.join("\n")),
    )
}

fn run_to(
    dir: &Dir,
    tag: &str,
    files: &(PathBuf, PathBuf, PathBuf),
    extra: &[&str],
    threads: &str,
) -> (i32, BTreeMap<String, Vec<u8>>) {
    let out_dir = dir.join(tag);
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut c = dir.cmd();
    c.args([
        "--format",
        "json",
        "--threads",
        threads,
        "join",
        "--requests",
    ])
    .arg(&files.0);
    c.arg("--results").arg(&files.1).arg(&files.2);
    for (flag, name) in [
        ("--out", "merged"),
        ("--retry", "retry"),
        ("--orphans", "orphans"),
    ] {
        c.arg(flag).arg(out_dir.join(format!("{name}.jsonl")));
    }
    c.args(extra);
    let o = run(c);
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(&out_dir).unwrap() {
        let e = e.unwrap();
        files.insert(
            e.file_name().to_string_lossy().into_owned(),
            std::fs::read(e.path()).unwrap(),
        );
    }
    let mut events = o.stdout.clone();
    // The summary says whether it spilled; everything else must match.
    let text = String::from_utf8(std::mem::take(&mut events)).unwrap();
    let stable: String = text
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if v["type"] == "summary" {
                v.as_object_mut().unwrap().remove("spilled");
                v.as_object_mut().unwrap().remove("partitions");
            }
            v.to_string() + "\n"
        })
        .collect();
    files.insert("stdout".into(), stable.into_bytes());
    (code(&o), files)
}

bktest!(
    spill_path_matches_in_memory_and_threads_do_not_matter,
    |dir| {
        let files = generated(&dir, 3000);
        let (c1, mem) = run_to(&dir, "mem", &files, &["--memory-limit", "1GiB"], "4");
        let (c2, spill) = run_to(&dir, "spill", &files, &["--table-limit", "64KiB"], "4");
        let (c3, spill1) = run_to(&dir, "spill1", &files, &["--table-limit", "64KiB"], "1");
        let (c4, mem1) = run_to(&dir, "mem1", &files, &["--memory-limit", "1GiB"], "1");
        assert_eq!((c1, c2, c3, c4), (1, 1, 1, 1));
        assert_eq!(mem, spill);
        assert_eq!(spill, spill1);
        assert_eq!(mem, mem1);
        let merged = String::from_utf8(mem["merged.jsonl"].clone()).unwrap();
        assert_eq!(merged.lines().count(), 3000);
        let summary: Value = serde_json::from_str(
            String::from_utf8_lossy(&mem["stdout"])
                .lines()
                .last()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(summary["missing"], 150);
        assert_eq!(summary["orphans"], 1);
        assert_eq!(summary["duplicates"], 1);
        // The spill run really spilled.
        let mut c = dir.cmd();
        c.args(["--format", "json", "join", "--requests"])
            .arg(&files.0)
            .arg("--results")
            .arg(&files.1)
            .arg(&files.2);
        c.args(["--out", "x.jsonl", "--table-limit", "64KiB"]);
        let last = json_lines(&run(c)).pop().unwrap();
        assert_eq!(last["spilled"], true);
    }
);

bktest!(temp_dir_is_removed_on_success_and_failure, |dir| {
    let files = generated(&dir, 500);
    let tmp = dir.join("spill");
    std::fs::create_dir(&tmp).unwrap();
    let mut c = dir.cmd();
    c.args(["join", "--requests"])
        .arg(&files.0)
        .arg("--results")
        .arg(&files.1)
        .arg(&files.2);
    c.args(["--out", "m.jsonl", "--table-limit", "64KiB", "--temp-dir"])
        .arg(&tmp);
    assert_eq!(code(&run(c)), 1);
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    // A request "file" that is a directory fails after the results spilled.
    let mut c = dir.cmd();
    c.args(["join", "--requests"])
        .arg(&tmp)
        .arg("--results")
        .arg(&files.1)
        .arg(&files.2);
    c.args([
        "--out",
        "fail.jsonl",
        "--table-limit",
        "64KiB",
        "--temp-dir",
    ])
    .arg(&tmp);
    let o = run(c);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("is a directory"));
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    assert!(!dir.join("fail.jsonl").exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("fail.jsonl"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
});

bktest!(all_succeeded_exits_zero_and_zstd_results_are_read, |dir| {
    let req = dir.write(
        "req.jsonl",
        "{\"custom_id\":\"a\",\"body\":{}}\n{\"custom_id\":\"b\",\"body\":{}}\n",
    );
    let res = "{\"custom_id\":\"b\",\"response\":{\"status_code\":201,\"body\":{}}}\n{\"custom_id\":\"a\",\"response\":{\"status_code\":200,\"body\":{}}}\n";
    let zst = dir.write(
        "res.jsonl.zst",
        zstd::encode_all(res.as_bytes(), 3).unwrap(),
    );
    let (c, events, merged) = join(&dir, &[req], &[zst], &["--retry", "retry.jsonl"]);
    assert_eq!(c, 0);
    assert_eq!(
        statuses(&merged),
        pairs(&[("a", "succeeded"), ("b", "succeeded")])
    );
    assert_eq!(std::fs::read(dir.join("retry.jsonl")).unwrap(), b"");
    assert_eq!(events.last().unwrap()["ok"], true);
});

bktest!(duplicate_request_ids_get_the_result_once, |dir| {
    let req = dir.write(
        "req.jsonl",
        "{\"custom_id\":\"a\",\"n\":1}\n{\"custom_id\":\"a\",\"n\":2}\n",
    );
    let res = dir.write(
        "res.jsonl",
        "{\"custom_id\":\"a\",\"response\":{\"status_code\":200,\"body\":{}}}\n",
    );
    for limit in ["1GiB", "1"] {
        let (c, events, merged) = join(
            &dir,
            std::slice::from_ref(&req),
            std::slice::from_ref(&res),
            &["--retry", "retry.jsonl", "--table-limit", limit],
        );
        assert_eq!(c, 1);
        assert_eq!(
            statuses(&merged),
            pairs(&[("a", "succeeded"), ("a", "missing")])
        );
        assert_eq!(merged[1]["problem"], "duplicate_id");
        // The retry file never repeats an id: the later line is reported, not copied.
        assert_eq!(std::fs::read(dir.join("retry.jsonl")).unwrap(), b"");
        let d = &events[0];
        assert_eq!(
            (
                d["code"].as_str(),
                d["line"].as_u64(),
                d["first_line"].as_u64()
            ),
            (Some("duplicate_id"), Some(2), Some(1))
        );
    }
});

bktest!(stdin_requests_and_usage_errors, |dir| {
    let res = dir.write(
        "res.jsonl",
        "{\"custom_id\":\"a\",\"response\":{\"status_code\":200,\"body\":{}}}\n",
    );
    for limit in ["1GiB", "1"] {
        let mut c = dir.cmd();
        c.args(["--format", "json", "join", "--requests", "-", "--results"])
            .arg(&res);
        c.args(["--out", "m.jsonl", "--table-limit", limit]);
        let o = crate::util::run_with_stdin(c, b"{\"custom_id\":\"a\"}\n{\"custom_id\":\"b\"}");
        assert_eq!(code(&o), 1);
        let m = std::fs::read_to_string(dir.join("m.jsonl")).unwrap();
        assert_eq!(m.lines().count(), 2, "{limit}");
    }
    let mut c = dir.cmd();
    c.args([
        "join",
        "--requests",
        "-",
        "--results",
        "-",
        "--out",
        "m2.jsonl",
    ]);
    assert_eq!(code(&run(c)), 2);
});

bktest!(an_unreadable_input_is_an_error_event_in_json, |dir| {
    for missing_side in ["--requests", "--results"] {
        let mut c = dir.cmd();
        c.args(["--format", "json", "join"]);
        if missing_side == "--requests" {
            c.args(["--requests", "missing.jsonl", "--results"])
                .arg(f("openai_output.jsonl"));
        } else {
            c.arg("--requests")
                .arg(f("openai_requests.jsonl"))
                .args(["--results", "missing.jsonl"]);
        }
        c.args(["--out", "merged.jsonl"]);
        let out = run(c);
        assert_eq!(code(&out), 2, "{missing_side}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // As validate, tokens and dupes: `{"type":"error",...}` last on stdout, and the same
        // message once on stderr.
        let lines: Vec<&str> = stdout.lines().collect();
        let [error, summary] = lines[..] else {
            panic!("an error event and the summary: {stdout}");
        };
        let failed: crate::util::Failed = serde_json::from_str(summary).unwrap();
        assert!(
            !failed.ok && failed.nulls.contains_key("joined"),
            "{summary}"
        );
        let e: batchkit_report::ErrorEvent =
            serde_json::from_str(error).unwrap_or_else(|e| panic!("{e}: {stdout}"));
        assert_eq!(failed.error.message, e.message);
        assert_eq!(
            (e.kind.as_str(), e.file.as_str()),
            ("error", "missing.jsonl")
        );
        assert_eq!(stderr.trim_end(), format!("error: {}", e.message));
        assert!(!dir.join("merged.jsonl").exists());
        // Human output: nothing on stdout about it, the error on stderr.
        let mut c = dir.cmd();
        c.args([
            "--format",
            "human",
            "join",
            "--requests",
            "missing.jsonl",
            "--results",
        ])
        .arg(f("openai_output.jsonl"))
        .args(["--out", "merged.jsonl"]);
        let out = run(c);
        assert_eq!(code(&out), 2);
        assert!(!String::from_utf8_lossy(&out.stdout).contains("missing.jsonl"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("error: missing.jsonl"), "{stderr}");
    }
});

bktest!(human_output_names_lines_and_totals, |dir| {
    let mut c = dir.cmd();
    c.args(["--format", "human", "join", "--requests"])
        .arg(f("openai_requests.jsonl"));
    c.arg("--results")
        .arg(f("openai_output.jsonl"))
        .arg(f("openai_errors.jsonl"));
    c.args(["--out", "m.jsonl"]);
    let o = run(c);
    assert_eq!(code(&o), 1);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("error[invalid_json]"), "{text}");
    assert!(text.contains("openai_requests.jsonl:6"), "{text}");
    assert!(text.contains("warning[duplicate_result]"), "{text}");
    assert!(text.contains("7 requests"), "{text}");
    assert!(
        text.contains("1 request line not valid UTF-8 JSON"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "no colour when not asked");
});

/// Every line of `merged` is one JSON value (strict: invalid UTF-8 or syntax fails).
fn assert_json_lines(merged: &[u8]) {
    for (i, l) in merged.split(|&b| b == b'\n').enumerate() {
        if l.is_empty() {
            continue;
        }
        if let Err(e) = serde_json::from_slice::<Value>(l) {
            panic!(
                "merged line {} is not JSON ({e}): {:?}",
                i + 1,
                String::from_utf8_lossy(l)
            );
        }
    }
}

/// The ids of a retry file's lines, asserting none repeats.
fn assert_retry_ids_unique(retry: &[u8]) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut ids = Vec::new();
    for l in retry.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_slice(l).expect("retry lines are JSON");
        let id = v["custom_id"].as_str().unwrap_or("<none>").to_string();
        if id != "<none>" {
            assert!(seen.insert(id.clone()), "retry repeats {id:?}");
        }
        ids.push(id);
    }
    ids
}

bktest!(
    invalid_request_and_result_lines_stay_out_of_merged_and_retry,
    |dir| {
        let mut req: Vec<u8> = Vec::new();
        req.extend_from_slice(b"{\"custom_id\":\"a\",\"body\":{\"n\":1}}\n");
        // Line 2: invalid UTF-8 inside a string serde would skip.
        req.extend_from_slice(b"{\"custom_id\":\"b\",\"body\":{\"x\":\"caf\xe9\"}}\n");
        // Line 3: not JSON.
        req.extend_from_slice(b"{\"custom_id\":\"c\",\"body\":{}\n");
        req.extend_from_slice(b"{\"custom_id\":\"d\",\"body\":{\"n\":1}}\n");
        // Line 5: `a` again (it has a result); line 6: `d` again (no result); line 7: `b`, whose
        // first line was invalid, so this is its first valid line.
        req.extend_from_slice(b"{\"custom_id\":\"a\",\"body\":{\"again\":1}}\n");
        req.extend_from_slice(b"{\"custom_id\":\"d\",\"body\":{\"again\":1}}\n");
        req.extend_from_slice(b"{\"custom_id\":\"b\",\"body\":{\"n\":1}}\n");
        // Line 8: invalid UTF-8 outside any string, and no final newline.
        req.extend_from_slice(b"\xff\xfe");
        let req = dir.write("req.jsonl", &req);
        let mut out: Vec<u8> = Vec::new();
        out.extend_from_slice(
        b"{\"custom_id\":\"a\",\"response\":{\"status_code\":500,\"body\":{}},\"error\":null}\n",
    );
        // Invalid UTF-8 in an ignored field of a result for `d`: never copied into a merged line.
        out.extend_from_slice(
        b"{\"custom_id\":\"d\",\"response\":{\"status_code\":200,\"body\":{\"x\":\"\xc3\"}},\"error\":null}\n",
    );
        out.extend_from_slice(b"{\"custom_id\":\"b\",\"response\":{\"status_code\":200,\"body\"\n");
        let out = dir.write("out.jsonl", &out);
        let err = dir.write("err.jsonl", "");
        let files = (req, out, err);
        let (c1, mem) = run_to(&dir, "mem", &files, &["--memory-limit", "1GiB"], "2");
        let (c2, spill) = run_to(&dir, "spill", &files, &["--table-limit", "64KiB"], "2");
        assert_eq!((c1, c2), (1, 1));
        assert_eq!(mem, spill, "the spill path writes the same outputs");
        let merged = &mem["merged.jsonl"];
        assert_json_lines(merged);
        let ids: Vec<String> = merged
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice::<Value>(l).unwrap()["custom_id"].to_string())
            .collect();
        assert_eq!(ids, ["\"a\"", "\"d\"", "\"a\"", "\"d\"", "\"b\""]);
        // Retry: `a` (errored), `d` (its result was unusable) and `b`; the later `a` and `d`
        // are not repeated, the invalid lines never copied.
        let retry = &mem["retry.jsonl"];
        assert_eq!(assert_retry_ids_unique(retry), ["a", "d", "b"]);
        assert_eq!(
        retry.as_slice(),
        b"{\"custom_id\":\"a\",\"body\":{\"n\":1}}\n{\"custom_id\":\"d\",\"body\":{\"n\":1}}\n{\"custom_id\":\"b\",\"body\":{\"n\":1}}\n"
    );
        // Both bad result lines go to the orphans file verbatim.
        let res_lines = lines_of(&files.1);
        assert_eq!(
            mem["orphans.jsonl"],
            [res_lines[1].clone(), res_lines[2].clone()].concat()
        );
        let events: Vec<Value> = String::from_utf8(mem["stdout"].clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let diag: Vec<(String, String, u64)> = events
            .iter()
            .filter(|e| e["type"] == "diagnostic")
            .map(|e| {
                let file = e["file"].as_str().unwrap();
                (
                    file.rsplit('/').next().unwrap().to_string(),
                    e["code"].as_str().unwrap().to_string(),
                    e["line"].as_u64().unwrap(),
                )
            })
            .collect();
        let d = |f: &str, c: &str, l: u64| (f.to_string(), c.to_string(), l);
        assert_eq!(
            diag,
            [
                d("out.jsonl", "invalid_utf8", 2),
                d("out.jsonl", "invalid_json", 3),
                d("req.jsonl", "invalid_utf8", 2),
                d("req.jsonl", "invalid_json", 3),
                d("req.jsonl", "duplicate_id", 5),
                d("req.jsonl", "duplicate_id", 6),
                d("req.jsonl", "invalid_utf8", 8),
            ]
        );
        let dup6 = events
            .iter()
            .find(|e| e["code"] == "duplicate_id" && e["line"] == 6)
            .unwrap();
        assert_eq!(
            (dup6["custom_id"].as_str(), dup6["first_line"].as_u64()),
            (Some("d"), Some(4))
        );
        let s = events.last().unwrap();
        assert_eq!(
            (
                s["requests"].as_u64(),
                s["invalid_requests"].as_u64(),
                s["to_retry"].as_u64(),
                s["not_in_retry"].as_u64(),
                s["unjoinable"].as_u64(),
            ),
            (Some(5), Some(3), Some(3), Some(2), Some(2))
        );
    }
);

bktest!(
    retry_never_repeats_an_id_when_request_ids_outgrow_memory,
    |dir| {
        // Few results (they fit in memory), many requests without one, some ids repeated: the id
        // set outgrows the budget and the join starts the request side again on the spill path.
        let n = 200_000;
        let mut req = String::with_capacity(n * 40);
        for i in 0..n {
            let id = if i % 997 == 0 && i > 0 {
                i - 500
            } else if i % 1999 == 0 && i > 0 {
                i / 2
            } else {
                i
            };
            req.push_str(&format!(
                "{{\"custom_id\":\"r{id}\",\"body\":{{\"n\":{i}}}}}\n"
            ));
            // Blank lines, reported in order whichever path the join takes.
            if i % 40_000 == 7 {
                req.push_str("\n \n");
            }
        }
        req.push('\n');
        let mut out = String::new();
        for i in (0..n).step_by(20_000) {
            out.push_str(&format!(
            "{{\"custom_id\":\"r{i}\",\"response\":{{\"status_code\":200,\"body\":{{}}}},\"error\":null}}\n"
        ));
        }
        let files = (
            dir.write("req.jsonl", req),
            dir.write("out.jsonl", out),
            dir.write("err.jsonl", ""),
        );
        let (c1, mem) = run_to(&dir, "mem", &files, &["--memory-limit", "1GiB"], "2");
        let (c2, restart) = run_to(&dir, "restart", &files, &["--table-limit", "40MiB"], "2");
        let (c3, spill) = run_to(&dir, "spill", &files, &["--table-limit", "64KiB"], "2");
        assert_eq!((c1, c2, c3), (1, 1, 1));
        assert_eq!(
            mem, restart,
            "a restarted join gives the same outputs and events"
        );
        assert_eq!(mem, spill);
        assert_json_lines(&mem["merged.jsonl"]);
        let retry = assert_retry_ids_unique(&mem["retry.jsonl"]);
        let dups = String::from_utf8_lossy(&mem["stdout"])
            .lines()
            .filter(|l| l.contains("\"duplicate_id\""))
            .count();
        assert!(dups > 200, "{dups}");
        assert_eq!(retry.len() + dups + n / 20_000, n);
        let blanks = String::from_utf8_lossy(&mem["stdout"])
            .lines()
            .filter(|l| l.contains("\"empty_line\""))
            .count();
        assert_eq!(blanks, n / 40_000 + 1);
        // The 40 MiB run did take the restart: it reports a spill.
        let (_, events, _) = join(
            &dir,
            std::slice::from_ref(&files.0),
            std::slice::from_ref(&files.1),
            &["--table-limit", "40MiB"],
        );
        assert_eq!(events.last().unwrap()["spilled"], true);
        let (_, events, _) = join(
            &dir,
            std::slice::from_ref(&files.0),
            std::slice::from_ref(&files.1),
            &["--memory-limit", "1GiB"],
        );
        assert_eq!(events.last().unwrap()["spilled"], false);
    }
);

// ---- The JSON Lines schema and the merged lines, redeclared and locked (see `util::strict`). ----

/// A place in an input.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct Place {
    file: String,
    line: u64,
    /// Null when not known.
    offset: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum JCode {
    InvalidJson,
    InvalidUtf8,
    NotObject,
    MissingField,
    WrongType,
    DuplicateId,
    LineTooLarge,
    EmptyLine,
}

#[derive(Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum JSide {
    Requests,
    Results,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct JDiag {
    /// `error`, but for blank request lines at the end of a file (`empty_line`, a warning).
    severity: crate::validate::Severity,
    code: JCode,
    file: String,
    line: u64,
    offset: Option<u64>,
    column: Option<u64>,
    custom_id: Option<String>,
    /// Only for `duplicate_id`: the request line that got the result.
    first_line: Option<u64>,
    pointer: Option<String>,
    message: String,
    context: Option<String>,
    /// The one diagnostic shape, with the side of the join.
    side: JSide,
    /// Only for `duplicate_id`: the file of `first_line` (else null).
    first_file: Option<String>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct VertexNoId {
    file: String,
    line: u64,
    offset: Option<u64>,
    count: u64,
    message: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct DuplicateResult {
    custom_id: String,
    kept: Place,
    dropped: Place,
}

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct Usage {
    input_tokens: u64,
    cached_tokens: u64,
    cache_write_tokens: u64,
    cache_write_1h_tokens: u64,
    output_tokens: u64,
    reasoning_tokens: u64,
    results_with_usage: u64,
}

/// A model's row: its usage fields inline, and the cost.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct ModelRow {
    model: String,
    input_tokens: u64,
    cached_tokens: u64,
    cache_write_tokens: u64,
    cache_write_1h_tokens: u64,
    output_tokens: u64,
    reasoning_tokens: u64,
    results_with_usage: u64,
    cost_usd: Option<f64>,
    /// Results per stop reason, the provider's own value.
    stop_reasons: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct JSummary {
    requests: u64,
    succeeded: u64,
    truncated: u64,
    refused: u64,
    invalid_answer: u64,
    errored: u64,
    expired: u64,
    canceled: u64,
    missing: u64,
    request_problems: u64,
    invalid_requests: u64,
    to_retry: u64,
    not_in_retry: u64,
    answers_checked: u64,
    raised: u64,
    raise_unchanged: u64,
    results: u64,
    joined: u64,
    matched_by_content: u64,
    orphans: u64,
    duplicates: u64,
    unjoinable: u64,
    usage: Usage,
    models: Vec<ModelRow>,
    cost_usd: Option<f64>,
    cost_incomplete: bool,
    prices_as_of: Option<String>,
    spilled: bool,
    partitions: u32,
    ok: bool,
    error: Option<crate::validate::RunError>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum JEvent {
    Diagnostic(JDiag),
    VertexNoId(VertexNoId),
    DuplicateResult(DuplicateResult),
    Summary(JSummary),
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Succeeded,
    Truncated,
    Refused,
    Errored,
    Expired,
    Canceled,
    Missing,
}

/// One line of the merged file.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct Merged {
    /// The id as the request wrote it (a number when mistyped, null when absent).
    custom_id: Value,
    status: Status,
    request: Value,
    result: Value,
    output_text: Option<String>,
    /// The provider's stop reason, verbatim.
    stop_reason: Option<String>,
    /// Only on a request line that could not be joined: its code and line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    problem: Option<JCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
}

bktest!(every_event_and_merged_line_fit_the_declared_schema, |dir| {
    // Request problems of every kind: a duplicate id, a numeric id, no id, invalid UTF-8, not
    // JSON, not an object, blank lines between requests and at the end; result problems: not
    // JSON, invalid UTF-8, no id.
    let req = dir.write(
        "req.jsonl",
        [
            &b"{\"custom_id\":\"a\",\"body\":{}}\n"[..],
            b"\n",
            b"{\"custom_id\":\"a\",\"body\":{\"again\":1}}\n",
            b"{\"custom_id\":7,\"body\":{}}\n",
            b"{\"body\":{}}\n",
            b"{\"custom_id\":\"u\",\"body\":{\"x\":\"caf\xe9\"}}\n",
            b"{\"custom_id\":\"t\",\n",
            b"[1,2]\n",
            b"{\"custom_id\":\"b\",\"body\":{}}\n",
            b"\n",
        ]
        .concat(),
    );
    let res = dir.write(
        "res.jsonl",
        [
            &b"{\"custom_id\":\"a\",\"response\":{\"status_code\":200,\"body\":{\"model\":\"gpt-4o-mini\",\"choices\":[{\"message\":{\"content\":\"hi\"}}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}},\"error\":null}\n"[..],
            b"{\"custom_id\":\"b\",\"response\":{\"status_code\":200,\"body\":\n",
            b"\xff{}\n",
            b"{\"response\":{}}\n",
        ]
        .concat(),
    );
    let p = |names: &[&str]| -> Vec<PathBuf> { names.iter().map(|n| f(n)).collect() };
    let runs: Vec<(Vec<PathBuf>, Vec<PathBuf>)> = vec![
        (
            p(&["openai_requests.jsonl"]),
            p(&["openai_output.jsonl", "openai_errors.jsonl"]),
        ),
        (
            p(&["anthropic_requests.jsonl"]),
            p(&["anthropic_results.jsonl"]),
        ),
        (p(&["gemini_requests.jsonl"]), p(&["gemini_results.jsonl"])),
        (
            p(&["vertex_requests.jsonl"]),
            p(&["vertex_predictions.jsonl"]),
        ),
        (
            p(&["mistral_requests.jsonl"]),
            p(&["mistral_results.jsonl"]),
        ),
        (p(&["groq_requests.jsonl"]), p(&["groq_results.jsonl"])),
        (
            p(&["together_requests.jsonl"]),
            p(&["together_results.jsonl", "azure_results.jsonl"]),
        ),
        (
            p(&["responses_requests.jsonl"]),
            p(&["responses_results.jsonl"]),
        ),
        (
            vec![fixture("bedrock/requests.jsonl")],
            vec![fixture("bedrock/requests.jsonl.out")],
        ),
        (
            vec![fixture("openai-compatible/requests.jsonl")],
            vec![
                fixture("openai-compatible/results.jsonl"),
                fixture("openai-compatible/results_old_layout.jsonl"),
            ],
        ),
        (vec![req.clone()], vec![res.clone()]),
    ];
    let mut seen = std::collections::BTreeSet::new();
    let mut codes = std::collections::BTreeSet::new();
    for (requests, results) in &runs {
        for limit in ["1GiB", "1"] {
            let _ = std::fs::remove_file(dir.join("merged.jsonl"));
            let mut c = dir.cmd();
            c.args(["--format", "json", "join", "--requests"])
                .args(requests)
                .arg("--results")
                .args(results);
            c.arg("--out")
                .arg(dir.join("merged.jsonl"))
                .args(["--table-limit", limit]);
            let out = run(c);
            let rc = code(&out);
            let events: Vec<JEvent> = crate::util::strict_lines(&out);
            let Some(JEvent::Summary(s)) = events.last() else {
                panic!("{requests:?}: no summary last");
            };
            assert_eq!(rc, if s.ok { 0 } else { 1 }, "{requests:?}");
            assert_eq!(
                s.requests,
                s.succeeded + s.errored + s.expired + s.canceled + s.missing
            );
            assert_eq!(s.to_retry + s.not_in_retry, s.requests - s.succeeded);
            assert_eq!(s.spilled, limit == "1", "{requests:?}");
            let (mut dups, mut req_diags) = (0, 0);
            for e in &events[..events.len() - 1] {
                match e {
                    JEvent::Diagnostic(d) => {
                        seen.insert("diagnostic");
                        codes.insert(format!("{:?}", d.code));
                        if d.code == JCode::EmptyLine {
                            // A run between requests is an error and a request problem, as
                            // validate counts it; at the end of a file, a warning only.
                            assert_eq!(d.side, JSide::Requests);
                            if d.severity == crate::validate::Severity::Error {
                                req_diags += 1;
                            }
                            continue;
                        }
                        assert_eq!(d.severity, crate::validate::Severity::Error);
                        let dup = d.code == JCode::DuplicateId;
                        assert_eq!(d.first_line.is_some(), dup, "{d:?}");
                        assert_eq!(d.first_file.is_some(), dup, "{d:?}");
                        assert!(
                            d.first_line
                                .is_none_or(|f| dup && f < d.line
                                    || d.first_file.as_deref() != Some(&d.file)),
                            "{d:?}"
                        );
                        if d.side == JSide::Requests {
                            req_diags += 1;
                        }
                    }
                    JEvent::VertexNoId(v) => {
                        seen.insert("vertex_no_id");
                        assert!(v.count >= 1 && v.line >= 1);
                    }
                    JEvent::DuplicateResult(d) => {
                        seen.insert("duplicate_result");
                        assert!(d.kept.file != d.dropped.file || d.kept.line != d.dropped.line);
                        dups += 1;
                    }
                    JEvent::Summary(_) => panic!("two summaries"),
                }
            }
            seen.insert("summary");
            assert_eq!(dups, s.duplicates, "{requests:?}");
            assert_eq!(req_diags, s.request_problems, "{requests:?}");
            let model_in: u64 = s.models.iter().map(|m| m.input_tokens).sum();
            assert_eq!(model_in, s.usage.input_tokens, "{requests:?}");
            let merged = std::fs::read_to_string(dir.join("merged.jsonl")).unwrap_or_else(|_| {
                // Invalid UTF-8 request lines are left out, so the merged file is UTF-8.
                panic!("{requests:?}: merged file missing or not UTF-8")
            });
            let lines: Vec<Merged> = merged.lines().map(crate::util::strict::<Merged>).collect();
            assert_eq!(lines.len() as u64, s.requests, "{requests:?}");
            for (st, n) in [
                (Status::Succeeded, s.succeeded),
                (Status::Errored, s.errored),
                (Status::Expired, s.expired),
                (Status::Canceled, s.canceled),
                (Status::Missing, s.missing),
            ] {
                assert_eq!(
                    lines.iter().filter(|l| l.status == st).count() as u64,
                    n,
                    "{requests:?} {st:?}"
                );
            }
            for l in &lines {
                assert_eq!(l.problem.is_some(), l.line.is_some(), "{l:?}");
                if l.result.is_null() {
                    assert!(matches!(l.status, Status::Missing), "{l:?}");
                }
            }
        }
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["diagnostic", "duplicate_result", "summary", "vertex_no_id"]
    );
    assert!(codes.len() >= 6, "{codes:?}");
    assert!(codes.contains("EmptyLine"), "{codes:?}");
});

bktest!(
    blank_request_lines_are_reported_as_validate_reports_them,
    |dir| {
        let req = dir.write(
            "req.jsonl",
            "{\"custom_id\":\"a\",\"body\":{}}\n\n \r\n{\"custom_id\":\"b\",\"body\":{}}\n\n\n",
        );
        let ok = |id: &str| {
            format!("{{\"custom_id\":\"{id}\",\"response\":{{\"status_code\":200,\"body\":{{}}}},\"error\":null}}\n")
        };
        let files = (
            req.clone(),
            dir.write("out.jsonl", ok("b") + &ok("a")),
            dir.write("err.jsonl", ""),
        );
        let (c1, mem) = run_to(&dir, "mem", &files, &["--memory-limit", "1GiB"], "2");
        let (c2, spill) = run_to(&dir, "spill", &files, &["--table-limit", "1"], "1");
        assert_eq!(mem, spill, "both join paths report blank lines alike");
        // Every request succeeded, but a blank line between requests is an error, as in
        // validate and tokens: the run ends with problems (exit 1).
        assert_eq!((c1, c2), (1, 1));
        let events: Vec<Value> = String::from_utf8_lossy(&mem["stdout"])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let blank: Vec<&Value> = events
            .iter()
            .filter(|e| e["code"] == "empty_line")
            .collect();
        let got: Vec<_> = blank
            .iter()
            .map(|e| {
                (
                    e["severity"].as_str(),
                    e["line"].as_u64(),
                    e["offset"].as_u64(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (Some("error"), Some(2), Some(28)),
                (Some("warning"), Some(5), Some(60))
            ]
        );
        // The same code, message and severity as validate.
        let mut c = dir.cmd();
        c.args(["--format", "json", "validate"]).arg(&req);
        let validate: Vec<Value> = json_lines(&run(c))
            .into_iter()
            .filter(|e| e["code"] == "empty_line")
            .collect();
        assert_eq!(validate.len(), 2);
        for (j, v) in blank.iter().zip(&validate) {
            for k in ["severity", "code", "line", "offset", "message"] {
                assert_eq!(j[k], v[k], "{k}");
            }
            assert_eq!(j["side"], "requests");
        }
        let s = events.last().unwrap();
        assert_eq!(
            (
                s["requests"].as_u64(),
                s["request_problems"].as_u64(),
                s["ok"].as_bool()
            ),
            (Some(2), Some(1), Some(false))
        );
    }
);

bktest!(request_ids_follow_the_one_id_rule, |dir| {
    // A repeated id is named by the field it stands in (`metadata.key`, not `custom_id`), and
    // a null id is of the wrong type (as validate says), not missing.
    let req = dir.write(
        "req.jsonl",
        "{\"request\":{},\"metadata\":{\"key\":\"m\"}}\n\
         {\"request\":{},\"metadata\":{\"key\":\"m\"}}\n\
         {\"custom_id\":null,\"body\":{}}\n",
    );
    let res = dir.write(
        "res.jsonl",
        "{\"metadata\":{\"key\":\"m\"},\"response\":{\"candidates\":[]}}\n",
    );
    let (rc, events, _) = join(&dir, std::slice::from_ref(&req), &[res], &[]);
    assert_eq!(rc, 1);
    let diags: Vec<(u64, &str, &str)> = events
        .iter()
        .filter(|e| e["type"] == "diagnostic")
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["code"].as_str().unwrap(),
                e["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        diags,
        [
            (
                2,
                "duplicate_id",
                "metadata.key \"m\" already used on line 1"
            ),
            (3, "wrong_type", "`custom_id` must be a string, found null"),
        ]
    );
    let mut c = dir.cmd();
    c.args(["--format", "json", "validate"]).arg(&req);
    let validate = json_lines(&run(c));
    for (line, code, message) in &diags {
        assert!(
            validate
                .iter()
                .any(|e| e["line"] == *line && e["code"] == *code && e["message"] == *message),
            "validate words line {line} otherwise: {validate:?}"
        );
    }
});

// ---- Answers: truncated and refused from each layout's stop reason ----

/// (id, status, stop_reason) of every merged line.
fn answers(merged: &[Value]) -> Vec<(String, String, Option<String>)> {
    merged
        .iter()
        .map(|l| {
            (
                l["custom_id"].as_str().unwrap().to_string(),
                l["status"].as_str().unwrap().to_string(),
                l["stop_reason"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn triples(v: &[(&str, &str, Option<&str>)]) -> Vec<(String, String, Option<String>)> {
    v.iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.map(str::to_string)))
        .collect()
}

fn answers_of(dir: &Dir, layout: &str, results: &str) -> (i32, Value, Vec<Value>) {
    let (c, events, merged) = join(
        dir,
        &[f(&format!("answers/{layout}_requests.jsonl"))],
        &[f(&format!("answers/{results}"))],
        &["--retry", "retry.jsonl"],
    );
    (c, events.last().unwrap().clone(), merged)
}

bktest!(answers_openai_chat, |dir| {
    let (c, summary, merged) = answers_of(&dir, "openai", "openai_results.jsonl");
    assert_eq!(c, 1);
    assert_eq!(
        answers(&merged),
        triples(&[
            ("ok", "succeeded", Some("stop")),
            ("cut", "truncated", Some("length")),
            // A non-null `message.refusal` with `finish_reason: "stop"`.
            ("refused", "refused", Some("stop")),
            ("filtered", "refused", Some("content_filter")),
        ])
    );
    // The partial answer is kept.
    assert_eq!(merged[1]["output_text"], "Certainly! One common example...");
    assert_eq!(
        (
            &summary["succeeded"],
            &summary["truncated"],
            &summary["refused"],
            &summary["to_retry"]
        ),
        (
            &Value::from(1),
            &Value::from(1),
            &Value::from(2),
            &Value::from(1)
        )
    );
    // Usage of truncated and refused answers is counted (they were billed).
    assert_eq!(summary["usage"]["results_with_usage"], 4);
    assert_eq!(summary["usage"]["output_tokens"], 5 + 200 + 11);
    assert_eq!(
        summary["models"][0]["stop_reasons"],
        serde_json::json!({"content_filter": 1, "length": 1, "stop": 2})
    );
    // Only the truncated request is retried by default.
    let retry = std::fs::read_to_string(dir.join("retry.jsonl")).unwrap();
    assert_eq!(retry.lines().count(), 1);
    assert!(retry.contains("\"custom_id\":\"cut\""));
});

bktest!(answers_responses, |dir| {
    let (_, summary, merged) = answers_of(&dir, "responses", "responses_results.jsonl");
    assert_eq!(
        answers(&merged),
        triples(&[
            ("ok", "succeeded", Some("completed")),
            ("cut", "truncated", Some("max_output_tokens")),
            ("refused", "refused", Some("completed")),
            // Filtered output: `incomplete`, the reason kept as the stop reason.
            ("filtered", "refused", Some("content_filter")),
            // A function call is a finished answer.
            ("tool", "succeeded", Some("completed")),
        ])
    );
    assert_eq!(summary["usage"]["output_tokens"], 5 + 100 + 5 + 3 + 12);
});

bktest!(answers_anthropic, |dir| {
    let (_, summary, merged) = answers_of(&dir, "anthropic", "anthropic_results.jsonl");
    assert_eq!(
        answers(&merged),
        triples(&[
            ("ok", "succeeded", Some("end_turn")),
            ("cut", "truncated", Some("max_tokens")),
            ("refused", "refused", Some("refusal")),
            ("sequence", "succeeded", Some("stop_sequence")),
            ("tool", "succeeded", Some("tool_use")),
            (
                "context",
                "truncated",
                Some("model_context_window_exceeded")
            ),
            // Neither finished nor cut nor refused: counted as succeeded.
            ("paused", "succeeded", Some("pause_turn")),
        ])
    );
    assert_eq!(merged[1]["output_text"], "Once upon a");
    assert_eq!(
        summary["models"][0]["stop_reasons"],
        serde_json::json!({"end_turn": 1, "max_tokens": 1, "refusal": 1, "stop_sequence": 1,
            "tool_use": 1, "model_context_window_exceeded": 1, "pause_turn": 1})
    );
});

bktest!(answers_gemini, |dir| {
    let (_, summary, merged) = answers_of(&dir, "gemini", "gemini_results.jsonl");
    assert_eq!(
        answers(&merged),
        triples(&[
            ("ok", "succeeded", Some("STOP")),
            // No parts: empty answer, still truncated.
            ("cut", "truncated", Some("MAX_TOKENS")),
            // No candidates: the prompt was blocked.
            ("blocked", "refused", Some("PROHIBITED_CONTENT")),
            ("unsafe", "refused", Some("SAFETY")),
            // STOP on a candidate without parts: an empty answer, finished.
            ("empty", "succeeded", Some("STOP")),
        ])
    );
    assert_eq!(merged[4]["output_text"], Value::Null);
    assert_eq!(merged[1]["output_text"], Value::Null);
    assert_eq!(
        (&summary["truncated"], &summary["refused"]),
        (&Value::from(1), &Value::from(2))
    );
});

bktest!(answers_vertex, |dir| {
    let (_, _, merged) = answers_of(&dir, "vertex", "vertex_predictions.jsonl");
    assert_eq!(
        answers(&merged),
        triples(&[
            ("ok", "succeeded", Some("STOP")),
            ("cut", "truncated", Some("MAX_TOKENS")),
            ("refused", "refused", Some("RECITATION")),
            // A Vertex-only block reason of the prompt.
            ("blocked", "refused", Some("JAILBREAK")),
            ("thought-out", "truncated", Some("MAX_TOKENS")),
        ])
    );
});

bktest!(answers_bedrock, |dir| {
    let (_, _, merged) = answers_of(&dir, "bedrock", "bedrock_results.jsonl");
    assert_eq!(
        answers(&merged),
        triples(&[
            ("claude-ok", "succeeded", Some("end_turn")),
            ("claude-cut", "truncated", Some("max_tokens")),
            ("claude-refused", "refused", Some("refusal")),
            ("nova-cut", "truncated", Some("max_tokens")),
            ("nova-refused", "refused", Some("content_filtered")),
            ("llama-cut", "truncated", Some("length")),
            ("nova-ok", "succeeded", Some("end_turn")),
            ("nova-guardrail", "refused", Some("guardrail_intervened")),
            ("llama-ok", "succeeded", Some("stop")),
            (
                "claude-context",
                "truncated",
                Some("model_context_window_exceeded")
            ),
        ])
    );
});

bktest!(answers_openai_compatible_hosts, |dir| {
    let (_, _, merged) = answers_of(&dir, "compatible", "compatible_results.jsonl");
    assert_eq!(
        answers(&merged),
        triples(&[
            ("mistral-cut", "truncated", Some("model_length")),
            ("together-ok", "succeeded", Some("eos")),
            ("vllm-cut", "truncated", Some("length")),
            // An unknown value counts as succeeded and is kept verbatim.
            ("vllm-unknown", "succeeded", Some("a_new_reason")),
        ])
    );
});

/// (id, status, stop_reason) of each merged line, in request order.
type Answers<'a> = &'a [(&'a str, &'a str, Option<&'a str>)];

bktest!(answers_of_every_other_host, |dir| {
    // (fixture pair, expected answers, tokens out).
    let hosts: [(&str, Answers, u64); 6] = [
        (
            "azure",
            &[
                ("azure-ok", "succeeded", Some("stop")),
                ("azure-cut", "truncated", Some("length")),
                ("azure-filtered", "refused", Some("content_filter")),
                // A filtered prompt is an HTTP 400: errored, no stop reason.
                ("azure-prompt-filtered", "errored", None),
            ],
            3 + 200 + 7,
        ),
        (
            "groq",
            &[
                ("groq-ok", "succeeded", Some("stop")),
                ("groq-cut", "truncated", Some("length")),
                ("groq-tool", "succeeded", Some("tool_calls")),
            ],
            2 + 50 + 12,
        ),
        (
            "mistral",
            &[
                ("mistral-ok", "succeeded", Some("stop")),
                ("mistral-cut", "truncated", Some("length")),
                ("mistral-model-cut", "truncated", Some("model_length")),
                ("mistral-error", "succeeded", Some("error")),
            ],
            2 + 50 + 50,
        ),
        (
            "together",
            &[
                ("together-ok", "succeeded", Some("stop")),
                ("together-eos", "succeeded", Some("eos")),
                ("together-cut", "truncated", Some("length")),
            ],
            2 + 2 + 50,
        ),
        (
            "vllm",
            &[
                ("vllm-ok", "succeeded", Some("stop")),
                // `stop_reason` is the stop string; the finish reason is what counts.
                ("vllm-stop-string", "succeeded", Some("stop")),
                ("vllm-cut", "truncated", Some("length")),
                ("vllm-abort", "succeeded", Some("abort")),
                ("vllm-repetition", "succeeded", Some("repetition")),
            ],
            2 + 2 + 50 + 50,
        ),
        (
            "xai",
            &[
                ("xai-ok", "succeeded", Some("stop")),
                ("xai-cut", "truncated", Some("REASON_MAX_LEN")),
                ("xai-failed", "errored", None),
            ],
            2 + 50,
        ),
    ];
    for (host, want, out) in hosts {
        let (_, summary, merged) = answers_of(&dir, host, &format!("{host}_results.jsonl"));
        assert_eq!(answers(&merged), triples(want), "{host}");
        assert_eq!(summary["usage"]["output_tokens"], out, "{host}");
        assert_eq!(
            (&summary["joined"], &summary["orphans"]),
            (&Value::from(want.len()), &Value::from(0)),
            "{host}"
        );
    }
});

bktest!(retry_on_chooses_the_statuses_retried, |dir| {
    let run_with = |extra: &[&str]| -> (Value, String) {
        let mut args = vec!["--retry", "retry.jsonl"];
        args.extend_from_slice(extra);
        let (_, events, _) = join(
            &dir,
            &[f("answers/openai_requests.jsonl")],
            &[f("answers/openai_results.jsonl")],
            &args,
        );
        let retry = std::fs::read_to_string(dir.join("retry.jsonl")).unwrap();
        let ids = retry
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["custom_id"].to_string())
            .collect::<Vec<_>>()
            .join(",");
        (events.last().unwrap().clone(), ids)
    };
    let (s, ids) = run_with(&[]);
    assert_eq!((ids.as_str(), &s["to_retry"]), ("\"cut\"", &Value::from(1)));
    let (s, ids) = run_with(&["--retry-on", "refused,truncated"]);
    assert_eq!(
        (ids.as_str(), &s["to_retry"]),
        ("\"cut\",\"refused\",\"filtered\"", &Value::from(3))
    );
    let (s, ids) = run_with(&["--retry-on", "errored"]);
    assert_eq!((ids.as_str(), &s["to_retry"]), ("", &Value::from(0)));
    // Exit 1 whatever is retried: not everything succeeded.
    let mut c = dir.cmd();
    c.args(["join", "--requests"])
        .arg(f("answers/openai_requests.jsonl"))
        .arg("--results")
        .arg(f("answers/openai_results.jsonl"))
        .args(["--out", "m.jsonl", "--retry-on", "errored"]);
    assert_eq!(code(&run(c)), 1);
    // A status that does not exist, or succeeded, is a usage error.
    for bad in ["nope", "succeeded"] {
        let mut c = dir.cmd();
        c.args(["join", "--requests"])
            .arg(f("answers/openai_requests.jsonl"))
            .arg("--results")
            .arg(f("answers/openai_results.jsonl"))
            .args(["--out", "m.jsonl", "--retry-on", bad]);
        assert_eq!(code(&run(c)), 2, "{bad}");
    }
});

bktest!(rounds_the_best_status_wins_then_the_later_file, |dir| {
    let req = dir.write(
        "req.jsonl",
        (1..=5)
            .map(|i| format!("{{\"custom_id\":\"r{i}\",\"params\":{{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":9,\"messages\":[]}}}}\n"))
            .collect::<String>(),
    );
    let line = |id: &str, stop: &str, text: &str| {
        format!("{{\"custom_id\":\"{id}\",\"result\":{{\"type\":\"succeeded\",\"message\":{{\"model\":\"claude-sonnet-4-5\",\"content\":[{{\"type\":\"text\",\"text\":\"{text}\"}}],\"stop_reason\":\"{stop}\",\"usage\":{{\"input_tokens\":1,\"output_tokens\":1}}}}}}}}\n")
    };
    let errored = |id: &str| {
        format!("{{\"custom_id\":\"{id}\",\"result\":{{\"type\":\"errored\",\"error\":{{\"type\":\"error\"}}}}}}\n")
    };
    // Round 1: r1 truncated, r2 succeeded, r3 errored, r4 truncated, r5 refused.
    let round1 = dir.write(
        "round1.jsonl",
        [
            line("r1", "max_tokens", "one"),
            line("r2", "end_turn", "two"),
            errored("r3"),
            line("r4", "max_tokens", "four-a"),
            line("r5", "refusal", ""),
        ]
        .concat(),
    );
    // Round 2: r1 succeeded, r2 truncated, r3 truncated, r4 truncated again, r5 errored.
    let round2 = dir.write(
        "round2.jsonl",
        [
            line("r1", "end_turn", "one again"),
            line("r2", "max_tokens", "tw"),
            line("r3", "max_tokens", "thr"),
            line("r4", "max_tokens", "four-b"),
            errored("r5"),
        ]
        .concat(),
    );
    for extra in [
        &["--memory-limit", "1GiB"][..],
        &["--table-limit", "1KiB"][..],
    ] {
        let mut args = vec!["--duplicates", "dup.jsonl"];
        args.extend_from_slice(extra);
        let (_, events, merged) = join(
            &dir,
            std::slice::from_ref(&req),
            &[round1.clone(), round2.clone()],
            &args,
        );
        assert_eq!(
            answers(&merged),
            triples(&[
                ("r1", "succeeded", Some("end_turn")),
                ("r2", "succeeded", Some("end_turn")),
                ("r3", "truncated", Some("max_tokens")),
                ("r4", "truncated", Some("max_tokens")),
                ("r5", "refused", Some("refusal")),
            ])
        );
        // Among equals, the file given later (the newer round).
        assert_eq!(merged[3]["output_text"], "four-b");
        assert_eq!(merged[0]["output_text"], "one again");
        // Every loser is reported, with its file and line.
        let dropped: Vec<(String, String, u64)> = events
            .iter()
            .filter(|e| e["type"] == "duplicate_result")
            .map(|e| {
                let file = e["dropped"]["file"].as_str().unwrap();
                (
                    e["custom_id"].as_str().unwrap().to_string(),
                    file.rsplit('/').next().unwrap().to_string(),
                    e["dropped"]["line"].as_u64().unwrap(),
                )
            })
            .collect();
        let mut dropped = dropped;
        dropped.sort();
        assert_eq!(
            dropped,
            vec![
                ("r1".into(), "round1.jsonl".into(), 1),
                ("r2".into(), "round2.jsonl".into(), 2),
                ("r3".into(), "round1.jsonl".into(), 3),
                ("r4".into(), "round1.jsonl".into(), 4),
                ("r5".into(), "round2.jsonl".into(), 5),
            ]
        );
        let s = events.last().unwrap();
        assert_eq!(
            s["spilled"],
            extra[0] == "--table-limit",
            "the same rule when spilled"
        );
        assert_eq!(s["duplicates"], 5);
        assert_eq!(
            std::fs::read_to_string(dir.join("dup.jsonl"))
                .unwrap()
                .lines()
                .count(),
            5
        );
    }
});

bktest!(
    rounds_spilled_at_a_small_memory_limit_equal_rounds_in_memory,
    |dir| {
        // Three rounds of results for enough requests that a 48 MiB join spills.
        let n = 30_000usize;
        let req: String = (0..n)
        .map(|i| format!("{{\"custom_id\":\"r{i}\",\"params\":{{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":9,\"messages\":[]}}}}\n"))
        .collect();
        let line = |id: usize, round: usize, stop: &str| {
            format!("{{\"custom_id\":\"r{id}\",\"result\":{{\"type\":\"succeeded\",\"message\":{{\"model\":\"claude-sonnet-4-5\",\"content\":[{{\"type\":\"text\",\"text\":\"round {round}\"}}],\"stop_reason\":\"{stop}\",\"usage\":{{\"input_tokens\":3,\"output_tokens\":{round}}}}}}}}}\n")
        };
        let errored = |id: usize| {
            format!("{{\"custom_id\":\"r{id}\",\"result\":{{\"type\":\"errored\",\"error\":{{\"type\":\"error\"}}}}}}\n")
        };
        // What each round says of request i (None: no result in that round).
        let fate = |i: usize, round: usize| -> Option<&'static str> {
            match (round, (i * 7 + round) % 9) {
                (1, 0) => None,
                (1, 1 | 2) => Some("errored"),
                (_, 3 | 4) => Some("max_tokens"),
                (_, 5) => Some("refusal"),
                (1, _) => Some("end_turn"),
                // Later rounds retry only a part of the requests.
                (_, 0 | 1) => Some("end_turn"),
                (_, 2) => Some("errored"),
                _ => None,
            }
        };
        let status = |f: &str| match f {
            "end_turn" => "succeeded",
            "max_tokens" => "truncated",
            "refusal" => "refused",
            _ => "errored",
        };
        let rank = |s: &str| match s {
            "succeeded" => 6,
            "truncated" => 4,
            "refused" => 3,
            _ => 2,
        };
        let mut rounds = Vec::new();
        let mut want: BTreeMap<&str, u64> = BTreeMap::new();
        let mut results = 0u64;
        for round in 1..=3 {
            let mut s = String::new();
            // Each round's file in an order of its own.
            for k in 0..n {
                let i = (k * 7919 + round * 13) % n;
                match fate(i, round) {
                    Some("errored") => s.push_str(&errored(i)),
                    Some(stop) => s.push_str(&line(i, round, stop)),
                    None => continue,
                }
                results += 1;
            }
            rounds.push(dir.write(&format!("round{round}.jsonl"), s));
        }
        // The reference: the best status, among equals the later round.
        for i in 0..n {
            let best =
                (1..=3)
                    .filter_map(|r| fate(i, r).map(status))
                    .fold(None, |b: Option<&str>, s| match b {
                        Some(b) if rank(b) > rank(s) => Some(b),
                        _ => Some(s),
                    });
            *want.entry(best.unwrap_or("missing")).or_default() += 1;
        }
        let req = dir.write("req.jsonl", req);
        let run_at = |tag: &str, limit: &str| -> (BTreeMap<String, Vec<u8>>, Value) {
            let out = dir.join(tag);
            std::fs::create_dir_all(&out).unwrap();
            let mut c = dir.cmd();
            c.args(["--format", "json", "join", "--requests"])
                .arg(&req)
                .arg("--results")
                .args(&rounds)
                .args(["--memory-limit", limit]);
            for (flag, name) in [
                ("--out", "merged"),
                ("--retry", "retry"),
                ("--duplicates", "duplicates"),
            ] {
                c.arg(flag).arg(out.join(format!("{name}.jsonl")));
            }
            let o = run(c);
            assert_eq!(code(&o), 1);
            let mut summary = json_lines(&o).pop().unwrap();
            let files = ["merged", "retry", "duplicates"]
                .iter()
                .map(|f| {
                    let name = format!("{f}.jsonl");
                    let bytes = std::fs::read(out.join(&name)).unwrap();
                    (name, bytes)
                })
                .collect();
            let spilled = summary.as_object_mut().unwrap().remove("spilled").unwrap();
            summary.as_object_mut().unwrap().remove("partitions");
            summary["spilled"] = spilled;
            (files, summary)
        };
        let (mem, mut mem_summary) = run_at("mem", "1GiB");
        let (small, mut small_summary) = run_at("small", "48MiB");
        assert_eq!(mem_summary["spilled"], false);
        assert_eq!(small_summary["spilled"], true, "48 MiB spills");
        for (name, bytes) in &mem {
            assert!(
                bytes == &small[name],
                "{name} differs between 1 GiB and 48 MiB"
            );
        }
        mem_summary.as_object_mut().unwrap().remove("spilled");
        small_summary.as_object_mut().unwrap().remove("spilled");
        assert_eq!(mem_summary, small_summary);
        for st in ["succeeded", "truncated", "refused", "errored", "missing"] {
            assert_eq!(
                mem_summary[st].as_u64(),
                Some(want.get(st).copied().unwrap_or(0)),
                "{st}"
            );
        }
        // Every result but the one kept per id is a loser, written to the duplicates file.
        let joined = n as u64 - want.get("missing").copied().unwrap_or(0);
        assert_eq!(mem_summary["duplicates"].as_u64(), Some(results - joined));
        assert_eq!(
            mem["duplicates.jsonl"]
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count() as u64,
            results - joined
        );
    }
);
// ---- --raise-max-tokens ----

bktest!(
    raise_max_tokens_rewrites_only_the_cap_of_truncated_retries,
    |dir| {
        // gpt-4o-mini writes at most 16,384 tokens (models.toml); o3 has no limit there.
        let chat = |id: &str, model: &str, cap: &str| {
            format!("{{\"custom_id\":\"{id}\", \"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{ \"messages\":[{{\"role\":\"user\",\"content\":\"say \\\"max_completion_tokens\\\": 5 \\u00e9\"}}],\"model\":\"{model}\"{cap} }}}}")
        };
        let lines = [
        chat("cut", "gpt-4o-mini", ",\"max_completion_tokens\" : 300"),
        chat("cut-crlf", "o3", ",\"max_completion_tokens\":1000"),
        chat("cut-near", "gpt-4o-mini", ",\"max_completion_tokens\":10000"),
        chat("cut-at-limit", "gpt-4o-mini", ",\"max_completion_tokens\":16384"),
        chat("cut-no-cap", "gpt-4o-mini", ""),
        chat("cut-float", "o3", ",\"max_completion_tokens\":300.0"),
        chat("ok", "gpt-4o-mini", ",\"max_completion_tokens\":300"),
        chat("failed", "gpt-4o-mini", ",\"max_completion_tokens\":300"),
        chat("gone", "gpt-4o-mini", ",\"max_completion_tokens\":300"),
        "{\"custom_id\":\"claude-cut\",\"params\":{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":40000,\"messages\":[]}}".to_string(),
    ];
        let req: String = lines
            .iter()
            .map(|l| {
                if l.contains("cut-crlf") {
                    format!("{l}\r\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        let req = dir.write("req.jsonl", req);
        let answer = |id: &str, finish: &str| {
            format!("{{\"custom_id\":\"{id}\",\"response\":{{\"status_code\":200,\"body\":{{\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"x\"}},\"finish_reason\":\"{finish}\"}}],\"usage\":{{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}}}}},\"error\":null}}\n")
        };
        let mut res: String = [
            "cut",
            "cut-crlf",
            "cut-near",
            "cut-at-limit",
            "cut-no-cap",
            "cut-float",
        ]
        .iter()
        .map(|id| answer(id, "length"))
        .collect();
        res += &answer("ok", "stop");
        res += "{\"custom_id\":\"failed\",\"response\":{\"status_code\":500,\"body\":{}},\"error\":null}\n";
        res += "{\"custom_id\":\"claude-cut\",\"result\":{\"type\":\"succeeded\",\"message\":{\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":\"max_tokens\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}}\n";
        let res = dir.write("res.jsonl", res);
        for limit in ["1GiB", "1"] {
            let (c, events, merged) = join(
                &dir,
                std::slice::from_ref(&req),
                std::slice::from_ref(&res),
                &[
                    "--retry",
                    "retry.jsonl",
                    "--raise-max-tokens",
                    "2",
                    "--table-limit",
                    limit,
                ],
            );
            assert_eq!(c, 1);
            let s = events.last().unwrap();
            assert_eq!(s["spilled"], limit == "1");
            assert_eq!(
                (
                    &s["truncated"],
                    &s["to_retry"],
                    &s["raised"],
                    &s["raise_unchanged"]
                ),
                (
                    &Value::from(7),
                    &Value::from(9),
                    &Value::from(4),
                    &Value::from(3)
                ),
                "{s}"
            );
            // The merged file keeps the request as it was sent.
            assert_eq!(
                merged[0]["request"]["body"]["max_completion_tokens"],
                Value::from(300)
            );
            let retry = std::fs::read(dir.join("retry.jsonl")).unwrap();
            let want: Vec<String> = [
            chat("cut", "gpt-4o-mini", ",\"max_completion_tokens\" : 600") + "\n",
            chat("cut-crlf", "o3", ",\"max_completion_tokens\":2000") + "\r\n",
            // Held to the model's limit.
            chat("cut-near", "gpt-4o-mini", ",\"max_completion_tokens\":16384") + "\n",
            // Unchanged, counted: already at the limit, no cap, not an integer.
            lines[3].clone() + "\n",
            lines[4].clone() + "\n",
            lines[5].clone() + "\n",
            // Errored and missing: copied as they are.
            lines[7].clone() + "\n",
            lines[8].clone() + "\n",
            "{\"custom_id\":\"claude-cut\",\"params\":{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":64000,\"messages\":[]}}\n".to_string(),
        ]
        .to_vec();
            assert_eq!(String::from_utf8(retry).unwrap(), want.concat());
        }
    }
);

bktest!(
    raise_max_tokens_takes_a_factor_above_one_and_a_retry_file,
    |dir| {
        for (bad, words) in [
            ("1", "not a factor above 1"),
            ("0.5", "not a factor above 1"),
            ("inf", "not a factor above 1"),
            ("NaN", "not a factor above 1"),
            ("two", "is not a number"),
        ] {
            let mut c = dir.cmd();
            c.args(["join", "--requests"])
                .arg(f("answers/openai_requests.jsonl"))
                .arg("--results")
                .arg(f("answers/openai_results.jsonl"))
                .args(["--out", "m.jsonl", "--retry", "r.jsonl"])
                .arg(format!("--raise-max-tokens={bad}"));
            let out = run(c);
            assert_eq!(code(&out), 2, "{bad}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(words), "{bad}: {err}");
        }
        let mut c = dir.cmd();
        c.args(["join", "--requests"])
            .arg(f("answers/openai_requests.jsonl"))
            .arg("--results")
            .arg(f("answers/openai_results.jsonl"))
            .args(["--out", "m.jsonl", "--raise-max-tokens", "2"]);
        let out = run(c);
        assert_eq!(code(&out), 2);
        assert!(String::from_utf8_lossy(&out.stderr).contains("--retry"));
        // Human output: how many were raised, how many could not be.
        let mut c = dir.cmd();
        c.args(["--format", "human", "join", "--requests"])
            .arg(f("answers/openai_requests.jsonl"))
            .arg("--results")
            .arg(f("answers/openai_results.jsonl"))
            .args([
                "--out",
                "m.jsonl",
                "--retry",
                "r.jsonl",
                "--raise-max-tokens",
                "1.5",
            ]);
        let out = run(c);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("1 truncated request with a raised output cap\n"),
            "{text}"
        );
        let retry = std::fs::read_to_string(dir.join("r.jsonl")).unwrap();
        assert!(retry.contains("\"max_completion_tokens\":300}"), "{retry}");
        // Round after round the cap reaches gpt-4o-mini's limit, 16,384, and stays there: said.
        let mut caps = Vec::new();
        for round in 0..7 {
            let requests = if round == 0 {
                f("answers/openai_requests.jsonl")
            } else {
                dir.write("round.jsonl", retry_of(&dir))
            };
            let mut c = dir.cmd();
            c.args(["--format", "human", "join", "--requests"])
                .arg(requests)
                .arg("--results")
                .arg(f("answers/openai_results.jsonl"))
                .args([
                    "--out",
                    "m.jsonl",
                    "--retry",
                    "r.jsonl",
                    "--raise-max-tokens",
                    "4",
                ]);
            let out = String::from_utf8(run(c).stdout).unwrap();
            let line: Value = serde_json::from_str(retry_of(&dir).trim_end()).unwrap();
            caps.push(line["body"]["max_completion_tokens"].as_u64().unwrap());
            if round == 6 {
                assert!(
                out.contains("  0 truncated requests with a raised output cap; 1 unchanged (no integer cap, or at the model's limit: likely cut again)\n"),
                "{out}"
            );
            }
        }
        assert_eq!(caps, [800, 3200, 12800, 16384, 16384, 16384, 16384]);
    }
);

fn retry_of(dir: &Dir) -> String {
    std::fs::read_to_string(dir.join("r.jsonl")).unwrap()
}

bktest!(
    one_failing_output_commits_none_and_names_its_flag_once,
    |dir| {
        let f = fixture;
        for (flag, full) in [("--retry", 1), ("--orphans", 2), ("--duplicates", 3)] {
            let mut c = dir.cmd();
            c.args(["join", "--requests"])
                .arg(f("join/openai_requests.jsonl"))
                .arg("--results")
                .arg(f("join/openai_output.jsonl"))
                .arg(f("join/openai_errors.jsonl"))
                .args(["--out", "m.jsonl"]);
            for (i, other) in ["--retry", "--orphans", "--duplicates"].iter().enumerate() {
                let target = if i + 1 == full {
                    "/dev/full".to_string()
                } else {
                    format!("{}.jsonl", other.trim_start_matches('-'))
                };
                c.arg(other).arg(target);
            }
            let out = run(c);
            assert_eq!(code(&out), 2, "{flag}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(err.matches(flag).count(), 1, "{flag}: {err}");
            assert_eq!(err.matches("/dev/full").count(), 1, "{flag}: {err}");
            let left: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert!(left.is_empty(), "{flag}: {left:?} committed or left behind");
        }
    }
);

bktest!(
    swapped_requests_and_results_are_refused_naming_the_flags,
    |dir| {
        let req = fixture("join/openai_requests.jsonl");
        let res = fixture("join/openai_output.jsonl");
        // Blank lines and a line that is not JSON come before the line that decides.
        let anthropic = dir.write(
            "anthropic.jsonl",
            "\n{oops\n{\"custom_id\":\"a\",\"result\":{\"type\":\"succeeded\"}}\n",
        );
        let vertex_req = dir.write(
        "vertex.jsonl",
        "\n\n{\"request\":{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}]}}\n",
    );
        // (--requests, --results, the flag named, what is said)
        let cases: [(&Path, &Path, &str, &str); 4] = [
            (&res, &req, "--results", ":1: this is a request line"),
            (&req, &req, "--results", ":1: this is a request line"),
            (
                &req,
                &vertex_req,
                "--results",
                "vertex.jsonl:3: this is a request line",
            ),
            (
                &anthropic,
                &res,
                "--requests",
                "anthropic.jsonl:3: this is an Anthropic result line",
            ),
        ];
        for (requests, results, flag, words) in cases {
            let mut c = dir.cmd();
            c.args(["join", "--requests"])
                .arg(requests)
                .arg("--results")
                .arg(results)
                .args(["--out", "m.jsonl", "--retry", "r.jsonl"]);
            let out = run(c);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(code(&out), 2, "{err}");
            assert!(err.contains(flag) && err.contains(words), "{err}");
            assert!(err.contains("swapped"), "{err}");
            assert!(!dir.join("m.jsonl").exists() && !dir.join("r.jsonl").exists());
        }
        // On stdin, judged as it is read.
        let mut c = dir.cmd();
        c.args(["join", "--requests", "-", "--results"])
            .arg(&anthropic)
            .args(["--out", "m.jsonl", "--retry", "r.jsonl"]);
        let out = crate::util::run_with_stdin(c, &std::fs::read(&res).unwrap());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(&out), 2, "{err}");
        assert!(
            err.contains("--requests <stdin>:1: this is an OpenAI-style output"),
            "{err}"
        );
        // The right way round still joins.
        let mut c = dir.cmd();
        c.args(["join", "--requests"])
            .arg(&req)
            .arg("--results")
            .arg(&res)
            .args(["--out", "m.jsonl"]);
        assert_eq!(code(&run(c)), 1);
        assert!(dir.join("m.jsonl").exists());
    }
);

bktest!(
    unsendable_request_lines_go_to_rejects_never_to_retry,
    |dir| {
        let body = r#""body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#;
        let url = r#""method":"POST","url":"/v1/chat/completions""#;
        let lines = [
            format!(r#"{{"custom_id":"a",{url},{body}}}"#),
            format!(r#"{{"custom_id":"b",{url},"body":{{}}}}"#),
            format!(r#"{{"custom_id":"c",{url}}}"#),
            format!(r#"{{{url},{body}}}"#),
            "[1,2]".to_string(),
            r#"{"custom_id":"d","#.to_string(),
            format!(r#"{{"custom_id":"e",{url},{body}}}"#),
            format!(r#"{{"custom_id":"f",{url},"body":{{}}}}"#),
        ];
        let req = dir.write("req.jsonl", lines.join("\n") + "\n");
        // `e` and `f` errored; nothing answers the others.
        let err = |id: &str| {
            format!(
                r#"{{"id":"batch_req_{id}","custom_id":"{id}","response":{{"status_code":500,"request_id":"r","body":{{}}}},"error":null}}"#
            )
        };
        let res = dir.write("res.jsonl", format!("{}\n{}\n", err("e"), err("f")));
        for (tag, extra) in [("mem", "1GiB"), ("spill", "")] {
            let mut c = dir.cmd();
            c.args(["--format", "json", "join", "--requests"])
                .arg(&req)
                .arg("--results")
                .arg(&res)
                .args([
                    "--out",
                    "m.jsonl",
                    "--retry",
                    "r.jsonl",
                    "--rejects",
                    "x.jsonl",
                ]);
            if extra.is_empty() {
                c.args(["--table-limit", "64KiB"]);
            } else {
                c.args(["--memory-limit", extra]);
            }
            let out = run(c);
            assert_eq!(code(&out), 1, "{tag}");
            let retry = std::fs::read_to_string(dir.join("r.jsonl")).unwrap();
            let want_retry = format!("{}\n{}\n", lines[0], lines[6]);
            assert_eq!(retry, want_retry, "{tag}");
            let rejects = std::fs::read_to_string(dir.join("x.jsonl")).unwrap();
            let want: Vec<&str> = [1, 2, 3, 4, 5, 7]
                .iter()
                .map(|&i| lines[i].as_str())
                .collect();
            assert_eq!(rejects, want.join("\n") + "\n", "{tag}");
            // Every unsendable line is said, with its line number.
            let events = json_lines(&out);
            let said: Vec<u64> = events
                .iter()
                .filter(|e| e["type"] == "diagnostic" && e["side"] == "requests")
                .map(|e| e["line"].as_u64().unwrap())
                .collect();
            assert_eq!(said, [2, 3, 4, 5, 6, 8], "{tag}: {events:?}");
            let summary = events.last().unwrap();
            assert_eq!(summary["to_retry"], 2, "{tag}");
            assert_eq!(summary["spilled"], tag == "spill", "{tag}");
            // The retry file is ready to upload: validate finds nothing in it.
            let mut c = dir.cmd();
            c.args(["validate", "--provider", "openai"])
                .arg(dir.join("r.jsonl"));
            assert_eq!(code(&run(c)), 0, "{tag}");
        }
    }
);
