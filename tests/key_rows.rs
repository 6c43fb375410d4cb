//! The join in key rows (`batchkit_join::keys`, as `batchkit.ray` and `batchkit.spark` run it):
//! key rows per input file, the rules per part, result lines dealt per result file, and one
//! ordinary join per request file told the ids earlier files used (`--earlier-ids`). Per
//! request file its merged, retry and rejects files, and per result file its orphans and
//! duplicates, concatenated in order, are the single run's files byte for byte; the summary
//! is the single run's. In memory and spilled, for 1, 4 and 7 parts.

use std::collections::BTreeMap;
use std::path::PathBuf;

use batchkit_io::{Input, ReadOptions};
use batchkit_join::keys::{self, Dest};
use proptest::prelude::*;
use serde_json::Value;

use crate::partition::{assert_close, generate, join, Ran};
use crate::util::{run, Dir};

const REQUEST_SIDE: [&str; 16] = [
    "requests",
    "succeeded",
    "truncated",
    "refused",
    "invalid_answer",
    "errored",
    "expired",
    "canceled",
    "missing",
    "request_problems",
    "invalid_requests",
    "to_retry",
    "not_in_retry",
    "answers_checked",
    "raised",
    "raise_unchanged",
];

/// One part's request blobs and result blobs.
type PartBlobs = (Vec<Vec<u8>>, Vec<Vec<u8>>);

fn input(p: &PathBuf) -> Input {
    Input::path(p)
}

/// The four steps, every task in turn; returns the summary and the output files by name.
fn steps(
    dir: &Dir,
    req: &[PathBuf],
    res: &[PathBuf],
    n: u32,
    extra: &[&str],
) -> (Value, BTreeMap<String, Vec<u8>>) {
    let read = ReadOptions::default();
    let out = dir.join(&format!("keys-{n}"));
    std::fs::create_dir_all(&out).unwrap();
    // 1. Key rows per file, dealt to parts.
    let mut parts: Vec<PartBlobs> = vec![(Vec::new(), Vec::new()); n as usize];
    let mut rows_bytes = 0usize;
    for (i, p) in req.iter().enumerate() {
        for (k, b) in keys::request_keys(&input(p), i as u32, n, &read)
            .unwrap()
            .into_iter()
            .enumerate()
        {
            rows_bytes += b.len();
            parts[k].0.push(b);
        }
    }
    let mut sides = Vec::new();
    for (i, p) in res.iter().enumerate() {
        let (blobs, side) = keys::result_keys(&input(p), i as u32, n, None, &read).unwrap();
        for (k, b) in blobs.into_iter().enumerate() {
            parts[k].1.push(b);
        }
        sides.push(side);
    }
    assert!(rows_bytes > 0);
    // 2. Each part decided.
    let mut dests: BTreeMap<u32, Vec<(u64, Dest)>> = BTreeMap::new();
    let mut earlier: BTreeMap<u32, Vec<(Vec<u8>, u32, u64)>> = BTreeMap::new();
    let mut counts = Vec::new();
    for (q, r) in parts {
        let rows = |v: Vec<Vec<u8>>| -> Vec<keys::KeyRow> {
            v.iter().flat_map(|b| keys::rows(b).unwrap()).collect()
        };
        let d = keys::decide(rows(q), rows(r));
        for (s, b) in d.dests {
            dests.entry(s).or_default().extend(keys::dests(&b).unwrap());
        }
        for (f, v) in d.earlier {
            earlier.entry(f).or_default().extend(v);
        }
        counts.push((d.joined, d.matched_by_content, d.orphans, d.duplicates));
    }
    // 3. Each result file dealt.
    let dealt = |f: usize, s: usize| out.join(format!("dealt-{f}-{s}.jsonl"));
    let mut got: Vec<Vec<usize>> = vec![Vec::new(); req.len()];
    for (s, p) in res.iter().enumerate() {
        let mut d = dests.remove(&(s as u32)).unwrap_or_default();
        d.sort_unstable_by_key(|x| x.0);
        let to: Vec<Option<PathBuf>> = (0..req.len()).map(|f| Some(dealt(f, s))).collect();
        let orphans = out.join(format!("{s:05}.orphans.jsonl"));
        let dups = out.join(format!("{s:05}.duplicates.jsonl"));
        let c = keys::deal(&input(p), &d, &to, Some(&orphans), Some(&dups), &read).unwrap();
        for (f, c) in c.into_iter().enumerate() {
            if c > 0 {
                got[f].push(s);
            }
        }
    }
    // 4. Each request file joined.
    let mut request_side: BTreeMap<&str, u64> = BTreeMap::new();
    let mut spilled = false;
    for (f, p) in req.iter().enumerate() {
        let ids = out.join(format!("earlier-{f}.jsonl"));
        let text: String = earlier
            .get(&(f as u32))
            .map(|v| {
                v.iter()
                    .map(|(id, file, line)| {
                        serde_json::json!({
                            "id": String::from_utf8(id.clone()).unwrap(),
                            "file": req[*file as usize].display().to_string(),
                            "line": line,
                        })
                        .to_string()
                            + "\n"
                    })
                    .collect()
            })
            .unwrap_or_default();
        std::fs::write(&ids, text).unwrap();
        let mut results: Vec<PathBuf> = got[f].iter().map(|&s| dealt(f, s)).collect();
        if results.is_empty() {
            let none = out.join(format!("none-{f}.jsonl"));
            std::fs::write(&none, "").unwrap();
            results.push(none);
        }
        let mut c = dir.cmd();
        c.args(["--format", "json"])
            .args(extra)
            .args(["join", "--requests"])
            .arg(p)
            .arg("--results")
            .args(&results)
            .arg("--earlier-ids")
            .arg(&ids);
        for k in ["out", "retry", "rejects"] {
            c.arg(format!("--{k}"))
                .arg(out.join(format!("{f:05}.{k}.jsonl")));
        }
        let o = run(c);
        assert!(
            o.status.code() < Some(2),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text = String::from_utf8(o.stdout).unwrap();
        let s: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        for k in REQUEST_SIDE {
            *request_side.entry(k).or_default() += s[k].as_u64().unwrap();
        }
        spilled |= s["spilled"].as_bool().unwrap();
    }
    let mut summary = serde_json::to_value(keys::summary(&sides, &counts)).unwrap();
    for (k, v) in request_side {
        summary[k] = v.into();
    }
    summary["spilled"] = spilled.into();
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('0'))
        .collect();
    names.sort();
    for name in names {
        let kind = name.split('.').nth(1).unwrap().to_string();
        files
            .entry(format!("{kind}.jsonl"))
            .or_default()
            .extend(std::fs::read(out.join(&name)).unwrap());
    }
    (summary, files)
}

fn check(seed: u64, count: u64, n: u32, extra: &[&str]) -> Value {
    let dir = Dir::new();
    let (req, res) = generate(&dir, seed, count);
    let whole: Ran = join(&dir, &req, &res, None, extra);
    assert!(whole.summary["duplicates"].as_u64() > Some(0));
    assert!(whole.summary["orphans"].as_u64() > Some(0));
    let (summary, files) = steps(&dir, &req, &res, n, extra);
    for (name, want) in &whole.files {
        assert!(files[name] == *want, "{name} differs with {n} parts");
    }
    let mut want = whole.summary.clone();
    for k in ["type", "ok", "error", "partitions", "spilled"] {
        want.as_object_mut().unwrap().remove(k);
    }
    let mut got = summary.clone();
    for k in ["partitions", "spilled"] {
        got.as_object_mut().unwrap().remove(k);
    }
    assert_close(&got, &want, "summary");
    summary
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2, ..ProptestConfig::default() })]
    #[test]
    fn key_row_steps_are_the_single_run(seed in any::<u64>()) {
        for n in [1, 4, 7] {
            check(seed, 240, n, &[]);
        }
    }
}

bktest!(
    key_row_steps_are_the_single_run_when_the_files_spill,
    |dir| {
        let _ = dir;
        let s = check(21, 4000, 4, &["--table-limit", "64KiB"]);
        assert_eq!(s["spilled"].as_bool(), Some(true));
    }
);

bktest!(
    vertex_rows_without_ids_take_their_requests_in_order_across_files,
    |dir| {
        // Identical requests over two files: the rows matched by content go to them in request
        // order, the first file's first.
        let text =
            std::fs::read_to_string(crate::util::fixture("vertex-content/requests.jsonl")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let a = dir.join("a.jsonl");
        let b = dir.join("b.jsonl");
        std::fs::write(&a, lines[..3].join("\n") + "\n").unwrap();
        std::fs::write(&b, lines[3..].join("\n") + "\n").unwrap();
        let req = vec![a, b];
        let res = vec![crate::util::fixture("vertex-content/predictions.jsonl")];
        let whole = join(&dir, &req, &res, None, &[]);
        assert!(whole.summary["matched_by_content"].as_u64() > Some(1));
        for n in [1, 4] {
            let (summary, files) = steps(&dir, &req, &res, n, &[]);
            for (name, want) in &whole.files {
                assert!(files[name] == *want, "{name} differs with {n} parts");
            }
            assert_eq!(
                summary["matched_by_content"],
                whole.summary["matched_by_content"]
            );
            assert_eq!(summary["succeeded"], whole.summary["succeeded"]);
        }
    }
);

bktest!(a_results_document_is_dealt_as_its_items, |dir| {
    // OpenRouter's inline results, saved as one JSON document: steps 1 and 3 read its items
    // as the join does, so the outputs are the single run's.
    let text = std::fs::read_to_string(crate::util::fixture("openrouter/requests.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let half = lines.len() / 2;
    let a = dir.join("a.jsonl");
    let b = dir.join("b.jsonl");
    std::fs::write(&a, lines[..half].join("\n") + "\n").unwrap();
    std::fs::write(&b, lines[half..].join("\n") + "\n").unwrap();
    let req = vec![a, b];
    let res = vec![crate::util::fixture("openrouter/batch.json")];
    let whole = join(&dir, &req, &res, None, &[]);
    assert!(
        whole.summary["joined"].as_u64() > Some(1),
        "{}",
        whole.summary
    );
    for n in [1, 3] {
        let (summary, files) = steps(&dir, &req, &res, n, &[]);
        for (name, want) in &whole.files {
            assert!(files[name] == *want, "{name} differs with {n} parts");
        }
        assert_eq!(summary["joined"], whole.summary["joined"]);
        assert_eq!(summary["results"], whole.summary["results"]);
    }
});
