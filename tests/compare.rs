//! `batchkit compare`: a generated pair with a known agreement pattern, in memory and spilled,
//! from merged files and from result files joined first; the human output locked as a
//! snapshot; bad lines named by file and line.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::util::{json_lines, run, Dir};

/// What the generator decided for one id: its status and answer on each side (`None`: the side
/// lacks the id).
#[derive(Clone)]
struct Fate {
    id: String,
    a: Option<(&'static str, Option<String>)>,
    b: Option<(&'static str, Option<String>)>,
}

/// N ids: A answers `{"label":..,"score":i}`; B lacks ids with i % 7 == 0, errors on
/// i % 11 == 0, gives another label on i % 3 == 0, the same JSON with other key order and
/// spacing on i % 5 == 0, the same text otherwise; A is truncated on i % 13 == 0. B also has
/// four ids A lacks.
fn fates(n: usize) -> Vec<Fate> {
    let mut out = Vec::new();
    for i in 0..n {
        let label = format!("L{}", i % 4);
        let a_text = format!(r#"{{"label":"{label}","score":{i}}}"#);
        let a = if i % 13 == 0 {
            ("truncated", Some(a_text[..a_text.len() / 2].to_string()))
        } else {
            ("succeeded", Some(a_text.clone()))
        };
        let b = if i % 7 == 0 {
            None
        } else if i % 11 == 0 {
            Some(("errored", None))
        } else if i % 3 == 0 {
            Some(("succeeded", Some(format!(r#"{{"label":"X","score":{i}}}"#))))
        } else if i % 5 == 0 {
            Some((
                "succeeded",
                Some(format!(r#"{{ "score": {i}.0, "label": "{label}" }}"#)),
            ))
        } else {
            Some(("succeeded", Some(a_text)))
        };
        out.push(Fate {
            id: format!("req-{i}"),
            a: Some(a),
            b,
        });
    }
    for k in 0..4 {
        out.push(Fate {
            id: format!("b-only-{k}"),
            a: None,
            b: Some(("succeeded", Some("plain words".into()))),
        });
    }
    out
}

/// The outcome of one id, decided from the generator's facts alone.
fn reference(f: &Fate) -> &'static str {
    match (&f.a, &f.b) {
        (Some(_), None) => "missing_b",
        (None, Some(_)) => "missing_a",
        (Some((sa, ta)), Some((sb, tb))) => match (*sa == "succeeded", *sb == "succeeded") {
            (true, true) => {
                if ta == tb {
                    "same"
                } else {
                    let (x, y): (Value, Value) = (
                        serde_json::from_str(ta.as_deref().unwrap()).unwrap(),
                        serde_json::from_str(tb.as_deref().unwrap()).unwrap(),
                    );
                    // Equal once parsed, numbers by value.
                    let norm =
                        |v: &Value| json!({"label": v["label"], "score": v["score"].as_f64()});
                    if norm(&x) == norm(&y) {
                        "json_equal"
                    } else {
                        "differ"
                    }
                }
            }
            (true, false) => "only_a",
            (false, true) => "only_b",
            (false, false) => "neither",
        },
        (None, None) => unreachable!(),
    }
}

/// The result line of an answer (OpenAI chat, usage 10 in and `out` out tokens).
fn result_line(id: &str, status: &str, text: Option<&str>, out: u64) -> Value {
    if status == "errored" {
        return json!({"custom_id": id, "response": null, "error": {"code": "server_error", "message": "boom"}});
    }
    let finish = if status == "truncated" {
        "length"
    } else {
        "stop"
    };
    json!({"custom_id": id, "response": {"status_code": 200, "body": {
        "model": "gpt-4o-mini",
        "usage": {"prompt_tokens": 10, "completion_tokens": out},
        "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": finish}]}},
        "error": null})
}

fn request_line(id: &str) -> Value {
    json!({"custom_id": id, "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "classify"}]}})
}

/// Merged lines of one side, as `batchkit join` writes them (field order included).
fn merged(fates: &[Fate], b: bool) -> String {
    let mut s = String::new();
    for (i, f) in fates.iter().enumerate() {
        let side = if b { &f.b } else { &f.a };
        let Some((status, text)) = side else { continue };
        let result = result_line(&f.id, status, text.as_deref(), (i % 5 + 1) as u64);
        let stop = match *status {
            "errored" => Value::Null,
            "truncated" => json!("length"),
            _ => json!("stop"),
        };
        s += &format!(
            "{{\"custom_id\":{},\"status\":\"{status}\",\"request\":{},\"result\":{},\"output_text\":{},\"stop_reason\":{}}}\n",
            json!(f.id),
            request_line(&f.id),
            result,
            json!(text),
            stop
        );
    }
    s
}

/// Raw result lines of one side, shuffled a little (results come in any order).
fn results(fates: &[Fate], b: bool) -> String {
    let mut lines = Vec::new();
    for (i, f) in fates.iter().enumerate() {
        let side = if b { &f.b } else { &f.a };
        let Some((status, text)) = side else { continue };
        lines.push(result_line(&f.id, status, text.as_deref(), (i % 5 + 1) as u64).to_string());
    }
    lines.reverse();
    lines.join("\n") + "\n"
}

fn requests(fates: &[Fate]) -> String {
    fates
        .iter()
        .map(|f| request_line(&f.id).to_string() + "\n")
        .collect()
}

fn summary(out: &std::process::Output) -> Value {
    let lines = json_lines(out);
    let last = lines.last().expect("a summary").clone();
    assert_eq!(last["type"], "summary", "{last}");
    last
}

const OUTCOMES: [&str; 8] = [
    "same",
    "json_equal",
    "differ",
    "only_a",
    "only_b",
    "neither",
    "missing_a",
    "missing_b",
];

#[test]
fn a_known_pattern_is_counted_and_every_disagreement_written() {
    let dir = Dir::new();
    let f = fates(300);
    dir.write("a.jsonl", merged(&f, false));
    dir.write("b.jsonl", merged(&f, true));
    let mut c = dir.cmd();
    c.args([
        "--format",
        "json",
        "compare",
        "a.jsonl",
        "b.jsonl",
        "--out",
        "diffs.jsonl",
    ]);
    let out = run(c);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = summary(&out);

    let mut want: BTreeMap<&str, u64> = OUTCOMES.iter().map(|o| (*o, 0)).collect();
    for x in &f {
        *want.get_mut(reference(x)).unwrap() += 1;
    }
    for o in OUTCOMES {
        assert_eq!(s[o], want[o], "{o}: {s}");
    }
    assert!(want["differ"] > 0 && want["json_equal"] > 0 && want["only_b"] > 0);
    assert_eq!(s["ids"], f.len() as u64);
    let agree = want["same"] + want["json_equal"];
    let answered = agree + want["differ"];
    let rate = s["agreement"].as_f64().unwrap();
    assert!(
        (rate - agree as f64 / answered as f64).abs() < 1e-6,
        "{rate}"
    );

    // Fields: over the ids both answered as JSON, /label agrees unless B relabelled it.
    let both: Vec<&Fate> = f
        .iter()
        .filter(|x| ["same", "json_equal", "differ"].contains(&reference(x)))
        .collect();
    let relabelled = both.iter().filter(|x| reference(x) == "differ").count() as u64;
    let fields = s["fields"].as_array().unwrap();
    let field = |name: &str| fields.iter().find(|v| v["field"] == name).unwrap().clone();
    assert_eq!(fields.len(), 2, "{s}");
    let (label, score) = (field("/label"), field("/score"));
    assert_eq!(label["both"], both.len() as u64);
    assert_eq!(label["agree"], both.len() as u64 - relabelled);
    assert_eq!(
        (score["both"].clone(), score["agree"].clone()),
        (json!(both.len()), json!(both.len()))
    );

    // Usage: output tokens are i % 5 + 1 on each line of the side.
    let tokens = |b: bool| -> u64 {
        f.iter()
            .enumerate()
            .filter(|(_, x)| {
                let side = if b { &x.b } else { &x.a };
                side.as_ref().is_some_and(|(st, _)| *st != "errored")
            })
            .map(|(i, _)| (i % 5 + 1) as u64)
            .sum()
    };
    assert_eq!(s["a"]["usage"]["output_tokens"], tokens(false));
    assert_eq!(s["b"]["usage"]["output_tokens"], tokens(true));
    assert!(s["a"]["cost_usd"].as_f64().unwrap() > 0.0, "{s}");

    // The diffs: every id that does not agree, A's order, then B's own ids in B's order.
    let diffs = std::fs::read_to_string(dir.join("diffs.jsonl")).unwrap();
    let got: Vec<Value> = diffs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let expected: Vec<&Fate> = f
        .iter()
        .filter(|x| x.a.is_some() && !["same", "json_equal"].contains(&reference(x)))
        .chain(f.iter().filter(|x| x.a.is_none()))
        .collect();
    assert_eq!(got.len(), expected.len());
    for (g, x) in got.iter().zip(&expected) {
        assert_eq!(g["custom_id"], x.id.as_str());
        assert_eq!(g["outcome"], reference(x), "{g}");
        assert_eq!(g["a"], json!(x.a.as_ref().and_then(|a| a.1.clone())));
        assert_eq!(g["b"], json!(x.b.as_ref().and_then(|b| b.1.clone())));
        let fields = if reference(x) == "differ" {
            json!(["/label"])
        } else {
            json!([])
        };
        assert_eq!(g["fields"], fields, "{g}");
    }
}

/// Everything in the summary but how it was computed.
fn without_path(mut s: Value) -> Value {
    let o = s.as_object_mut().unwrap();
    o.remove("spilled");
    o.remove("partitions");
    s
}

#[test]
fn spilled_equals_in_memory_and_results_with_requests_equal_merged_files() {
    let dir = Dir::new();
    // Enough ids that a partition pair is split again at the forced tiny budget.
    let f = fates(6000);
    dir.write("a.jsonl", merged(&f, false));
    dir.write("b.jsonl", merged(&f, true));
    let go = |name: &str, extra: &[&str], a: &str, b: &str| {
        let mut c = dir.cmd();
        c.args(["--format", "json", "compare", a, b, "--out", name])
            .args(extra);
        let out = run(c);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (summary(&out), std::fs::read(dir.join(name)).unwrap())
    };
    let (mem, d1) = go("mem.jsonl", &[], "a.jsonl", "b.jsonl");
    assert_eq!(mem["spilled"], false);
    for threads in ["1", "4"] {
        let name = format!("spill{threads}.jsonl");
        let (spill, d2) = go(
            &name,
            &[
                "--table-limit",
                "4KiB",
                "--chunk-size",
                "64KiB",
                "--threads",
                threads,
            ],
            "a.jsonl",
            "b.jsonl",
        );
        assert_eq!(spill["spilled"], true, "{spill}");
        assert!(spill["partitions"].as_u64().unwrap() >= 2);
        assert_eq!(without_path(spill), without_path(mem.clone()));
        assert!(d1 == d2, "the spilled diffs differ from the in-memory ones");
    }
    // No spill file, joined file or temporary output is left.
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".batchkit"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // The same answers as raw result files, joined to the requests first.
    dir.write("req.jsonl", requests(&f));
    dir.write("a-out.jsonl", results(&f, false));
    dir.write("b-out.jsonl", results(&f, true));
    let mut c = dir.cmd();
    c.args([
        "--format",
        "json",
        "compare",
        "a-out.jsonl",
        "b-out.jsonl",
        "--requests",
        "req.jsonl",
        "--out",
        "raw.jsonl",
    ]);
    let out = run(c);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = summary(&out);
    // With the requests, an id a side has no result for is there, with status missing: the
    // ids only one side had become only_a / only_b / neither.
    let mut want: BTreeMap<&str, u64> = OUTCOMES.iter().map(|o| (*o, 0)).collect();
    for x in &f {
        let o = match reference(x) {
            "missing_b" if x.a.as_ref().unwrap().0 == "succeeded" => "only_a",
            "missing_b" => "neither",
            "missing_a" => "only_b",
            o => o,
        };
        *want.get_mut(o).unwrap() += 1;
    }
    for o in OUTCOMES {
        assert_eq!(raw[o], want[o], "{o}: {raw}");
    }
    for k in ["agreement", "fields"] {
        assert_eq!(raw[k], mem[k], "{k}");
    }
    for side in ["a", "b"] {
        assert_eq!(raw[side]["usage"], mem[side]["usage"], "{side}");
    }
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".batchkit"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn bad_lines_and_duplicates_are_named_by_file_and_line() {
    let dir = Dir::new();
    let f = fates(6);
    let a = merged(&f, false);
    let mut lines: Vec<&str> = a.lines().collect();
    let dup = lines[1].to_string();
    lines.insert(3, "{\"custom_id\":\"req-9\",\"status\":\"succeeded\",");
    lines.push(&dup);
    dir.write("a.jsonl", lines.join("\n") + "\n");
    dir.write("b.jsonl", merged(&f, false));
    let mut c = dir.cmd();
    c.args(["--format", "json", "compare", "a.jsonl", "b.jsonl"]);
    let out = run(c);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = json_lines(&out);
    let bad = recs.iter().find(|r| r["type"] == "diagnostic").unwrap();
    assert_eq!(
        (
            bad["file"].clone(),
            bad["line"].clone(),
            bad["code"].clone()
        ),
        (json!("a.jsonl"), json!(4), json!("invalid_json"))
    );
    assert_eq!(bad["side"], "a");
    let d = recs.iter().find(|r| r["type"] == "duplicate_id").unwrap();
    assert_eq!(
        (
            d["custom_id"].clone(),
            d["line"].clone(),
            d["first_line"].clone()
        ),
        (json!("req-1"), json!(8), json!(2))
    );
    let s = recs.last().unwrap();
    assert_eq!(
        (
            s["a"]["invalid_lines"].clone(),
            s["a"]["duplicates"].clone()
        ),
        (json!(1), json!(1))
    );
    // Every id but the truncated one (i = 0) answered alike.
    let answered = f
        .iter()
        .filter(|x| x.a.as_ref().is_some_and(|a| a.0 == "succeeded"))
        .count();
    assert_eq!(
        (s["same"].clone(), s["neither"].clone()),
        (json!(answered), json!(6 - answered))
    );

    // A result file given without --requests: said once, exit 2.
    dir.write("out.jsonl", results(&f, false));
    let mut c = dir.cmd();
    c.args(["compare", "out.jsonl", "b.jsonl"]);
    let out = run(c);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("out.jsonl:1: not a merged line") && err.contains("--requests"),
        "{err}"
    );

    // An output that is an input is refused before anything is written.
    let mut c = dir.cmd();
    c.args(["compare", "a.jsonl", "b.jsonl", "--out", "b.jsonl"]);
    let out = run(c);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(dir.join("b.jsonl")).unwrap(),
        merged(&f, false)
    );
}

#[test]
fn agreeing_files_exit_0() {
    let dir = Dir::new();
    let f = fates(20);
    dir.write("a.jsonl", merged(&f, false));
    let mut c = dir.cmd();
    c.args([
        "--format", "json", "compare", "a.jsonl", "a.jsonl", "--fields", "/label",
    ]);
    let out = run(c);
    // A is truncated on i % 13 == 0: those ids are "neither".
    assert_eq!(out.status.code(), Some(1));
    let s = summary(&out);
    assert_eq!(s["neither"], 2);
    let ok: String = merged(&f, false)
        .lines()
        .filter(|l| !l.contains("\"truncated\""))
        .map(|l| l.to_string() + "\n")
        .collect();
    dir.write("ok.jsonl", ok);
    let mut c = dir.cmd();
    c.args([
        "--format", "json", "compare", "ok.jsonl", "ok.jsonl", "--fields", "/label",
    ]);
    let out = run(c);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let s = summary(&out);
    assert_eq!(
        (s["same"].clone(), s["agreement"].clone(), s["ok"].clone()),
        (json!(18), json!(1.0), json!(true))
    );
    assert_eq!(
        s["fields"],
        json!([{"field": "/label", "both": 18, "agree": 18, "only_a": 0, "only_b": 0, "rate": 1.0}])
    );
}

#[test]
fn human_output() {
    let dir = Dir::new();
    let f = fates(40);
    dir.write("a.jsonl", merged(&f, false));
    dir.write("b.jsonl", merged(&f, true));
    let transcript = |threads: &str| {
        let mut c = dir.cmd();
        c.env("NO_COLOR", "1").args([
            "--format",
            "human",
            "--threads",
            threads,
            "compare",
            "a.jsonl",
            "b.jsonl",
        ]);
        let out = run(c);
        format!(
            "exit: {}\n----- stdout -----\n{}----- stderr -----\n{}",
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let one = transcript("1");
    assert_eq!(one, transcript("4"), "output depends on --threads");
    insta::assert_snapshot!("compare_human", one);
}

#[test]
fn the_bundled_pair() {
    // fixtures/README.md: review-1 and -4 same, -2 and -6 json_equal, -3 and -5 differ, -7
    // only_a (refused by B), -8 only_b (truncated in A).
    let dir = Dir::new();
    let fx = |n: &str| crate::util::fixture(&format!("compare/{n}"));
    let mut c = dir.cmd();
    c.args(["--format", "json", "compare"])
        .arg(fx("openai_merged.jsonl"))
        .arg(fx("anthropic_merged.jsonl"))
        .args(["--out", "d.jsonl"]);
    let s = summary(&run(c));
    let counts: Vec<u64> = OUTCOMES.iter().map(|o| s[o].as_u64().unwrap()).collect();
    assert_eq!(counts, [2, 2, 2, 1, 1, 0, 0, 0]);
    let ids: Vec<String> = std::fs::read_to_string(dir.join("d.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["custom_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids, ["review-3", "review-5", "review-7", "review-8"]);
    // The same from the result files, each joined to its own requests first.
    let mut c = dir.cmd();
    c.args(["--format", "json", "compare"])
        .arg(fx("openai_results.jsonl"))
        .arg(fx("openai_results.jsonl"))
        .arg("--requests")
        .arg(fx("openai_requests.jsonl"));
    let s = summary(&run(c));
    assert_eq!(
        (s["same"].clone(), s["neither"].clone()),
        (json!(7), json!(1))
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_leaves_no_staging() {
    use std::io::Write;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let dir = Dir::new();
    let f = fates(2000);
    dir.write("req.jsonl", requests(&f));
    dir.write("a-out.jsonl", results(&f, false));
    let staging = || -> Vec<String> {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".batchkit"))
            .collect()
    };
    let mut c = dir.cmd();
    c.args([
        "compare",
        "a-out.jsonl",
        "-",
        "--requests",
        "req.jsonl",
        "--out",
        "diffs.jsonl",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    // B's results on stdin, half of them: the join of B waits for the rest, with the diffs
    // file and the joined files staged.
    let b = results(&f, true);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&b.as_bytes()[..b.len() / 2]).unwrap();
    stdin.flush().unwrap();
    let t = Instant::now();
    while staging().len() < 2 {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "no staging: {:?}",
            staging()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: a signal to our own child process.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(staging().is_empty(), "{:?}", staging());
    assert!(!dir.join("diffs.jsonl").exists());
}

#[test]
fn an_id_repeated_past_the_budget_gives_the_same_report_spilled() {
    // One id on 20,000 lines of A: its partition never fits and is split level after level,
    // always whole; the duplicates are reported in the same order as in memory.
    let dir = Dir::new();
    let f = fates(300);
    let a = merged(&f, false);
    let second = a.lines().nth(1).unwrap().to_string() + "\n";
    dir.write("a.jsonl", a.clone() + &second.repeat(20_000));
    dir.write("b.jsonl", merged(&f, true));
    let go = |extra: &[&str]| {
        let mut c = dir.cmd();
        c.args([
            "--format", "json", "compare", "a.jsonl", "b.jsonl", "--out", "d.jsonl",
        ])
        .args(extra);
        let out = run(c);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut recs = json_lines(&out);
        let s = recs.pop().unwrap();
        (recs, s, std::fs::read(dir.join("d.jsonl")).unwrap())
    };
    let (ev1, s1, d1) = go(&[]);
    let (ev2, s2, d2) = go(&["--table-limit", "4KiB"]);
    assert_eq!(
        (s1["spilled"].clone(), s2["spilled"].clone()),
        (json!(false), json!(true))
    );
    assert_eq!(s1["a"]["duplicates"], 20_000);
    assert_eq!(ev1.len(), 20_000);
    assert_eq!(
        (ev1[0]["line"].clone(), ev1[0]["first_line"].clone()),
        (json!(f.len() - 4 + 1), json!(2))
    );
    assert!(ev1 == ev2, "the events differ");
    assert_eq!(without_path(s1), without_path(s2));
    assert!(d1 == d2);
}

/// Answers that are tool calls (no text) are compared by the call's input (an object input
/// written with its keys in order, so the same input in another key order is `same`).
#[test]
fn tool_call_answers_are_compared_by_their_input() {
    let dir = Dir::new();
    let req = |id: &str| {
        json!({"custom_id": id, "params": {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "x"}], "tools": [{"name": "t", "input_schema": {"type": "object"}}], "tool_choice": {"type": "tool", "name": "t"}}}).to_string() + "\n"
    };
    let res = |id: &str, input: Value| {
        json!({"custom_id": id, "result": {"type": "succeeded", "message": {"model": "claude-sonnet-4-5", "content": [{"type": "tool_use", "id": "u", "name": "t", "input": input}], "stop_reason": "tool_use", "usage": {"input_tokens": 5, "output_tokens": 2}}}}).to_string() + "\n"
    };
    dir.write("req.jsonl", req("a") + &req("b") + &req("c"));
    dir.write(
        "a.jsonl",
        res("a", json!({"label": "x", "n": 1}))
            + &res("b", json!({"label": "y"}))
            + &res("c", json!({"label": "z"})),
    );
    dir.write(
        "b.jsonl",
        res("a", json!({"n": 1, "label": "x"}))
            + &res("b", json!({"label": "y"}))
            + &res("c", json!({"label": "w"})),
    );
    let mut c = dir.cmd();
    c.args([
        "--format",
        "json",
        "compare",
        "a.jsonl",
        "b.jsonl",
        "--requests",
        "req.jsonl",
        "--out",
        "d.jsonl",
    ]);
    let s = summary(&run(c));
    assert_eq!(
        (
            s["same"].as_u64(),
            s["json_equal"].as_u64(),
            s["differ"].as_u64()
        ),
        (Some(2), Some(0), Some(1)),
        "{s}"
    );
    let diffs = std::fs::read_to_string(dir.join("d.jsonl")).unwrap();
    let d: Value = serde_json::from_str(diffs.lines().next().unwrap()).unwrap();
    assert_eq!(
        (&d["custom_id"], &d["fields"]),
        (&json!("c"), &json!(["/label"]))
    );
}
