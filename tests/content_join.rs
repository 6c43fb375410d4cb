//! `batchkit join` of results that carry no id: Vertex rows joined to the request they echo
//! (by content), and OpenRouter's inline results document.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::util::{code, fixture, json_lines, run, run_with_stdin, Dir};

fn vc(name: &str) -> PathBuf {
    fixture(&format!("vertex-content/{name}"))
}

/// Every output of one join into `dir/name/`, and its stdout with the summary's `spilled` and
/// `partitions` left out (everything else must match between the paths).
fn outputs(dir: &Dir, name: &str, o: &Output) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(dir.join(name)).unwrap() {
        let e = e.unwrap();
        files.insert(
            e.file_name().to_string_lossy().into_owned(),
            std::fs::read(e.path()).unwrap(),
        );
    }
    let stable: String = String::from_utf8_lossy(&o.stdout)
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
    files
}

/// A JSON join of `req` and `res` (`-`: `stdin` on standard input) with every output into
/// `dir/name/`; returns the exit code, the outputs (see [`outputs`]) and the summary.
#[allow(clippy::too_many_arguments)]
fn join_to(
    dir: &Dir,
    name: &str,
    req: &Path,
    res: &[&Path],
    stdin: Option<&[u8]>,
    extra: &[&str],
    threads: &str,
) -> (i32, BTreeMap<String, Vec<u8>>, Value) {
    let out = dir.join(name);
    std::fs::create_dir_all(&out).unwrap();
    let mut c = dir.cmd();
    c.args([
        "--format",
        "json",
        "--threads",
        threads,
        "join",
        "--requests",
    ])
    .arg(req)
    .arg("--results")
    .args(res);
    for flag in ["out", "retry", "orphans"] {
        c.arg(format!("--{flag}"))
            .arg(out.join(format!("{flag}.jsonl")));
    }
    c.args(extra);
    let o = match stdin {
        Some(data) => run_with_stdin(c, data),
        None => run(c),
    };
    let summary = json_lines(&o).pop().expect("a summary");
    assert_eq!(
        summary["type"],
        "summary",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    (code(&o), outputs(dir, name, &o), summary)
}

fn merged_lines(files: &BTreeMap<String, Vec<u8>>) -> Vec<Value> {
    String::from_utf8_lossy(&files["out.jsonl"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn lines_of(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

bktest!(
    vertex_rows_without_an_id_join_the_request_they_echo,
    |dir| {
        let (req, res) = (vc("requests.jsonl"), vc("predictions.jsonl"));
        let (rc, mem, s) = join_to(&dir, "mem", &req, &[&res], None, &[], "4");
        assert_eq!(rc, 1);
        let m = merged_lines(&mem);
        let got: Vec<(Value, &str, Value)> = m
            .iter()
            .map(|l| {
                (
                    l["custom_id"].clone(),
                    l["status"].as_str().unwrap(),
                    l["output_text"].clone(),
                )
            })
            .collect();
        let null = Value::Null;
        assert_eq!(
            got,
            [
                // Three identical requests, two rows for them: the first row (an error) to the
                // first, the second to the second, none left for the third.
                (null.clone(), "errored", null.clone()),
                // Echoed in snake_case, another key order, `32.0`, `\u0027`.
                (null.clone(), "succeeded", Value::from("chat")),
                (null.clone(), "succeeded", Value::from("7")),
                // LiteLLM's id in the request's labels, echoed with it: joined by id.
                (
                    Value::from("litellm-7"),
                    "succeeded",
                    Value::from("The sky is blue.")
                ),
                // A job that set instanceConfig.keyField: the row carries `key` and no request.
                (Value::from("kf-9"), "succeeded", Value::from("hctab")),
                (null.clone(), "missing", null.clone()),
                (null.clone(), "missing", null.clone()),
            ]
        );
        // Each merged line holds the row it was joined to.
        assert_eq!(
            m[0]["result"]["status"],
            "Internal error: the model was overloaded"
        );
        assert_eq!(
            m[2]["result"]["processed_time"],
            "2025-07-09T19:57:43.558+00:00"
        );
        assert_eq!(
            (
                s["joined"].as_u64(),
                s["matched_by_content"].as_u64(),
                s["orphans"].as_u64(),
                s["unjoinable"].as_u64(),
                s["missing"].as_u64(),
                s["to_retry"].as_u64(),
            ),
            (Some(5), Some(3), Some(1), Some(0), Some(2), Some(3))
        );
        // The retry file holds the failed and missing lines as they are; the orphan is the row
        // of a request this file does not have.
        let reqs = lines_of(&req);
        assert_eq!(
            String::from_utf8_lossy(&mem["retry.jsonl"]),
            format!("{}\n{}\n{}\n", reqs[0], reqs[5], reqs[6])
        );
        assert_eq!(
            String::from_utf8_lossy(&mem["orphans.jsonl"]),
            format!("{}\n", lines_of(&res)[5])
        );
        // The spilled join, at any number of threads, writes the same bytes.
        let (_, spill, s2) = join_to(
            &dir,
            "spill",
            &req,
            &[&res],
            None,
            &["--table-limit", "1"],
            "1",
        );
        assert_eq!(s2["spilled"], true);
        assert_eq!(mem, spill);
        let (_, mem1, _) = join_to(&dir, "mem1", &req, &[&res], None, &[], "1");
        assert_eq!(mem, mem1);
    }
);

bktest!(the_human_summary_counts_results_joined_by_content, |dir| {
    let mut c = dir.cmd();
    c.args(["--format", "human", "join", "--requests"])
        .arg(vc("requests.jsonl"))
        .arg("--results")
        .arg(vc("predictions.jsonl"))
        .arg("--out")
        .arg(dir.join("m.jsonl"));
    let o = run(c);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(
            "6 results: 5 joined, 1 orphan, 0 duplicates, 0 without id\n  3 joined by content: Vertex rows without an id, matched to the request they echo (identical requests in order)\n"
        ),
        "{text}"
    );
});

/// Request `i`'s content: every 10th request is the same as the one before it.
fn base(i: usize) -> usize {
    if i % 10 == 9 {
        i - 1
    } else {
        i
    }
}

/// A Vertex request file of `n` requests without ids (see [`base`]) and its output rows,
/// echoed in another key order and case with numbers written otherwise, in another order:
/// every 7th request has no row, every 5th row is an error, and 3 rows answer requests the
/// file does not have. Each text is padded to `pad` bytes. Also the rows' requests (by
/// [`base`]) in result order, `None` for the strays.
fn generated(n: usize, pad: usize) -> (String, String, Vec<Option<usize>>) {
    let fill = "x".repeat(pad);
    let text = |b: usize| format!("Request {b}: {fill}");
    let mut req = String::new();
    for i in 0..n {
        let b = base(i);
        req.push_str(&format!(
            "{{\"request\":{{\"contents\":[{{\"role\":\"user\",\"parts\":[{{\"text\":\"{}\"}}]}}],\"generationConfig\":{{\"temperature\":0.5,\"maxOutputTokens\":{}}}}}}}\n",
            text(b),
            64 + b % 3
        ));
    }
    let row = |t: &str, cap: usize, k: usize| {
        let (status, response) = if k.is_multiple_of(5) {
            ("\"Internal error\"".to_string(), String::new())
        } else {
            (
                "\"\"".to_string(),
                format!(
                    ",\"response\":{{\"candidates\":[{{\"content\":{{\"role\":\"model\",\"parts\":[{{\"text\":\"answer {k}\"}}]}},\"finishReason\":\"STOP\"}}],\"modelVersion\":\"gemini-2.0-flash-001@default\",\"usageMetadata\":{{\"promptTokenCount\":{},\"candidatesTokenCount\":2}}}}",
                    10 + k % 7
                ),
            )
        };
        format!(
            "{{\"status\":{status},\"processed_time\":\"2025-07-09T19:57:43.558+00:00\",\"request\":{{\"generation_config\":{{\"max_output_tokens\":{cap}.0,\"temperature\":5e-1}},\"contents\":[{{\"parts\":[{{\"text\":\"{t}\"}}],\"role\":\"user\"}}]}}{response}}}\n"
        )
    };
    // A fixed permutation of the rows (7919 is prime: coprime with n unless it divides it).
    assert_ne!(n % 7919, 0);
    let (mut res, mut order) = (String::new(), Vec::new());
    for j in 0..n {
        let i = j * 7919 % n;
        if i % 7 != 3 {
            let b = base(i);
            res.push_str(&row(&text(b), 64 + b % 3, i));
            order.push(Some(i));
        }
        if j % (n / 3) == 1 {
            res.push_str(&row(&format!("stray {j}"), 64, j));
            order.push(None);
        }
    }
    (req, res, order)
}

bktest!(joined_by_content_spilled_equals_in_memory, |dir| {
    let n = 12_000;
    let (req, res, order) = generated(n, 2000);
    let req = dir.write("req.jsonl", req);
    let res_bytes = res.into_bytes();
    let res = dir.write("res.jsonl", &res_bytes);
    let (c1, mem, s1) = join_to(
        &dir,
        "mem",
        &req,
        &[&res],
        None,
        &["--memory-limit", "1GiB"],
        "2",
    );
    assert_eq!(s1["spilled"], false);
    // Results on stdin are held as bytes: at 48 MiB they spill.
    let stdin = Path::new("-");
    let (c2, spill, s2) = join_to(
        &dir,
        "spill",
        &req,
        &[stdin],
        Some(&res_bytes),
        &["--memory-limit", "48MiB"],
        "2",
    );
    assert_eq!(s2["spilled"], true);
    let (c3, spill1, _) = join_to(
        &dir,
        "spill1",
        &req,
        &[&res],
        None,
        &["--table-limit", "64KiB"],
        "1",
    );
    assert_eq!((c1, c2, c3), (1, 1, 1));
    assert_eq!(mem["out.jsonl"], spill["out.jsonl"]);
    assert_eq!(mem["retry.jsonl"], spill["retry.jsonl"]);
    assert_eq!(mem["orphans.jsonl"], spill["orphans.jsonl"]);
    assert_eq!(mem, spill1);
    // (The stdin run names its results `-` in events; the counts agree.)
    for k in [
        "joined",
        "matched_by_content",
        "orphans",
        "missing",
        "errored",
        "succeeded",
    ] {
        assert_eq!(s1[k], s2[k], "{k}");
    }
    // Every request once, in order, each joined to the first row of its content no earlier
    // request took (rows in result order), or missing when none is left.
    let mut rows: BTreeMap<usize, std::collections::VecDeque<usize>> = BTreeMap::new();
    for k in order.iter().flatten() {
        rows.entry(base(*k)).or_default().push_back(*k);
    }
    let merged = merged_lines(&mem);
    assert_eq!(merged.len(), n);
    let mut missing = 0;
    for (i, l) in merged.iter().enumerate() {
        let (want, text) = match rows.get_mut(&base(i)).and_then(|q| q.pop_front()) {
            None => ("missing", Value::Null),
            Some(k) if k.is_multiple_of(5) => ("errored", Value::Null),
            Some(k) => ("succeeded", Value::from(format!("answer {k}"))),
        };
        missing += u64::from(want == "missing");
        assert_eq!(
            (l["status"].as_str(), &l["output_text"]),
            (Some(want), &text),
            "line {}",
            i + 1
        );
        assert_eq!(l["custom_id"], Value::Null);
    }
    assert!(missing > 0 && (n as u64 / 7) > missing / 2, "{missing}");
    assert_eq!(s1["missing"].as_u64(), Some(missing));
    assert_eq!(s1["matched_by_content"].as_u64(), Some(n as u64 - missing));
    assert_eq!(s1["orphans"].as_u64(), Some(3));
});

fn or(name: &str) -> PathBuf {
    fixture(&format!("openrouter/{name}"))
}

bktest!(openrouter_inline_results_are_a_results_file, |dir| {
    let req = or("requests.jsonl");
    // The document as `GET /api/v1/batches/{id}` returns it (pretty-printed), and its
    // `results[]` items as JSON Lines, join alike; in memory and spilled alike.
    let (rc, doc, s) = join_to(&dir, "doc", &req, &[&or("batch.json")], None, &[], "2");
    let (_, lines, _) = join_to(&dir, "lines", &req, &[&or("results.jsonl")], None, &[], "2");
    let (_, spill, s2) = join_to(
        &dir,
        "spill",
        &req,
        &[&or("batch.json")],
        None,
        &["--table-limit", "1"],
        "1",
    );
    assert_eq!(rc, 1);
    assert_eq!(s2["spilled"], true);
    assert_eq!(doc, lines);
    assert_eq!(doc, spill);
    let m = merged_lines(&doc);
    let got: Vec<(&str, &str)> = m
        .iter()
        .map(|l| {
            (
                l["custom_id"].as_str().unwrap(),
                l["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("or-1", "succeeded"),
            // `error` set, `response` null.
            ("or-2", "errored"),
            ("or-3", "truncated"),
            // An upstream error: `response.status_code` 429.
            ("or-4", "errored"),
            ("or-5", "missing"),
        ]
    );
    assert_eq!(m[0]["output_text"], "Fast, \"swift\"\nor rapid.");
    assert_eq!(m[1]["result"]["error"]["code"], "provider_error");
    assert_eq!(
        (
            s["usage"]["input_tokens"].as_u64(),
            s["usage"]["output_tokens"].as_u64(),
            s["orphans"].as_u64(),
            s["results"].as_u64(),
        ),
        (Some(42), Some(8), Some(1), Some(5))
    );
    // The orphan is written as its item, on one line.
    assert_eq!(
        String::from_utf8_lossy(&doc["orphans.jsonl"]),
        format!("{}\n", lines_of(&or("results.jsonl"))[4])
    );
});

bktest!(
    a_broken_results_document_is_read_as_lines_and_reported,
    |dir| {
        // Cut short: not a whole document, so read as JSON Lines, each broken line reported
        // with its file and line; nothing panics and the requests are all there, missing.
        let text = std::fs::read_to_string(or("batch.json")).unwrap();
        let cut = dir.write("cut.json", &text[..text.len() / 2]);
        let mut c = dir.cmd();
        c.args(["--format", "json", "join", "--requests"])
            .arg(or("requests.jsonl"))
            .arg("--results")
            .arg(&cut)
            .arg("--out")
            .arg(dir.join("m.jsonl"));
        let o = run(c);
        assert_eq!(code(&o), 1, "{}", String::from_utf8_lossy(&o.stderr));
        let events = json_lines(&o);
        let first = &events[0];
        assert_eq!(
            (
                first["code"].as_str(),
                first["line"].as_u64(),
                first["side"].as_str()
            ),
            (Some("invalid_json"), Some(1), Some("results"))
        );
        assert!(first["file"].as_str().unwrap().ends_with("cut.json"));
        let s = events.last().unwrap();
        assert_eq!(
            (s["requests"].as_u64(), s["missing"].as_u64()),
            (Some(5), Some(5))
        );
    }
);

bktest!(
    legacy_vertex_embedding_rows_join_the_instance_they_echo,
    |dir| {
        let req = vc("embedding_requests.jsonl");
        let res = vc("embedding_predictions.jsonl");
        let (rc, mem, s) = join_to(&dir, "mem", &req, &[&res], None, &[], "2");
        let (_, spill, _) = join_to(
            &dir,
            "spill",
            &req,
            &[&res],
            None,
            &["--table-limit", "1"],
            "1",
        );
        assert_eq!(rc, 1);
        assert_eq!(mem, spill);
        let m = merged_lines(&mem);
        let got: Vec<&str> = m.iter().map(|l| l["status"].as_str().unwrap()).collect();
        assert_eq!(got, ["succeeded", "succeeded", "errored"]);
        // Each request line got the row that echoes it (another key order), with its tokens.
        let rows = lines_of(&res);
        for (i, row) in [2, 0, 1].into_iter().enumerate() {
            let want: Value = serde_json::from_str(&rows[row]).unwrap();
            assert_eq!(m[i]["result"], want, "line {}", i + 1);
        }
        assert_eq!(
            (
                s["matched_by_content"].as_u64(),
                s["usage"]["input_tokens"].as_u64(),
                s["to_retry"].as_u64()
            ),
            (Some(3), Some(15), Some(1))
        );
        assert_eq!(
            String::from_utf8_lossy(&mem["retry.jsonl"]),
            format!("{}\n", lines_of(&req)[2])
        );
    }
);
