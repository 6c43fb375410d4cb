//! A shuffled, partly failed, partly missing result set joins back to every request exactly
//! once with the right status, the retry file is byte-exact, and the spill path writes the same
//! bytes as the in-memory path.

use batchkit_io::{Input, ReadOptions};
use batchkit_join::{join, JoinOptions};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum Fate {
    Ok,
    Http400,
    Expired,
    Cancelled,
    Missing,
}

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![
        6 => Just(Fate::Ok),
        1 => Just(Fate::Http400),
        1 => Just(Fate::Expired),
        1 => Just(Fate::Cancelled),
        1 => Just(Fate::Missing),
    ]
}

fn expected(f: Fate) -> &'static str {
    match f {
        Fate::Ok => "succeeded",
        Fate::Http400 => "errored",
        Fate::Expired => "expired",
        Fate::Cancelled => "canceled",
        Fate::Missing => "missing",
    }
}

fn request(i: usize, pad: usize, crlf: bool) -> String {
    format!(
        "{{\"custom_id\":\"req-{i}\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"gpt-4o-mini\",\"messages\":[{{\"role\":\"user\",\"content\":\"{}\"}}]}}}}{}",
        "x".repeat(pad),
        if crlf { "\r\n" } else { "\n" }
    )
}

fn result(i: usize, f: Fate) -> Option<(bool, String)> {
    let id = format!("req-{i}");
    Some(match f {
        Fate::Ok => (true, format!("{{\"id\":\"b{i}\",\"custom_id\":\"{id}\",\"response\":{{\"status_code\":200,\"body\":{{\"model\":\"gpt-4o-mini\",\"choices\":[{{\"message\":{{\"content\":\"answer {i}\"}}}}],\"usage\":{{\"prompt_tokens\":3,\"completion_tokens\":2}}}}}},\"error\":null}}")),
        Fate::Http400 => (false, format!("{{\"custom_id\":\"{id}\",\"response\":{{\"status_code\":400,\"body\":{{\"error\":{{\"message\":\"bad\"}}}}}},\"error\":null}}")),
        Fate::Expired => (false, format!("{{\"custom_id\":\"{id}\",\"response\":null,\"error\":{{\"code\":\"batch_expired\",\"message\":\"late\"}}}}")),
        Fate::Cancelled => (false, format!("{{\"custom_id\":\"{id}\",\"response\":null,\"error\":{{\"code\":\"batch_cancelled\",\"message\":\"c\"}}}}")),
        Fate::Missing => return None,
    })
}

fn run(
    dir: &std::path::Path,
    tag: &str,
    limit: u64,
    chunk: usize,
) -> (Vec<u8>, Vec<u8>, batchkit_join::JoinSummary) {
    let mut o = JoinOptions::new(
        vec![Input::path(dir.join("req.jsonl"))],
        vec![
            Input::path(dir.join("out.jsonl")),
            Input::path(dir.join("err.jsonl")),
        ],
        dir.join(format!("merged-{tag}.jsonl")),
    );
    o.retry = Some(dir.join(format!("retry-{tag}.jsonl")));
    o.read = ReadOptions {
        chunk_size: chunk,
        read_size: chunk.min(4096),
        budget: batchkit_io::Budget::default().with_tables(limit),
        ..ReadOptions::default()
    };
    let s = join(
        &o,
        &mut batchkit_join::Events(|_: &batchkit_join::Event| Ok(())),
    )
    .unwrap();
    let merged = std::fs::read(dir.join(format!("merged-{tag}.jsonl"))).unwrap();
    let retry = std::fs::read(dir.join(format!("retry-{tag}.jsonl"))).unwrap();
    (merged, retry, s)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn shuffled_results_join_back_exactly_once(
        fates in prop::collection::vec((fate(), 0usize..200, any::<bool>()), 1..300),
        seed in any::<u64>(),
        chunk in 64usize..4096,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut req = Vec::new();
        let mut expect_retry = Vec::new();
        let mut out = Vec::new();
        let mut err = Vec::new();
        for (i, &(f, pad, crlf)) in fates.iter().enumerate() {
            let line = request(i, pad, crlf);
            req.extend_from_slice(line.as_bytes());
            if !matches!(f, Fate::Ok) {
                expect_retry.extend_from_slice(line.as_bytes());
            }
            if let Some((ok, r)) = result(i, f) {
                if ok { out.push(r) } else { err.push(r) }
            }
        }
        // A deterministic shuffle of each results file.
        let mut state = seed | 1;
        for v in [&mut out, &mut err] {
            for i in (1..v.len()).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                v.swap(i, (state % (i as u64 + 1)) as usize);
            }
        }
        std::fs::write(dir.path().join("req.jsonl"), &req).unwrap();
        std::fs::write(dir.path().join("out.jsonl"), out.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
        std::fs::write(dir.path().join("err.jsonl"), err.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();

        let (merged, retry, s) = run(dir.path(), "mem", 1 << 30, chunk);
        let lines: Vec<serde_json::Value> = merged.split(|&b| b == b'\n').filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap()).collect();
        prop_assert_eq!(lines.len(), fates.len());
        for (i, (l, &(f, _, _))) in lines.iter().zip(&fates).enumerate() {
            prop_assert_eq!(l["custom_id"].as_str().unwrap(), format!("req-{i}"));
            prop_assert_eq!(l["status"].as_str().unwrap(), expected(f));
            prop_assert_eq!(l["request"]["custom_id"].as_str().unwrap(), format!("req-{i}"));
            prop_assert_eq!(l["result"].is_null(), matches!(f, Fate::Missing));
            if matches!(f, Fate::Ok) {
                prop_assert_eq!(l["output_text"].as_str().unwrap(), format!("answer {i}"));
            }
        }
        prop_assert_eq!(&retry, &expect_retry);
        prop_assert_eq!(s.joined + s.orphans, s.results);
        prop_assert_eq!(s.orphans, 0);
        prop_assert!(!s.spilled);

        let (merged2, retry2, s2) = run(dir.path(), "spill", 1, chunk);
        prop_assert!(s2.spilled);
        prop_assert_eq!(&merged2, &merged);
        prop_assert_eq!(&retry2, &retry);
        prop_assert_eq!(s2.statuses, s.statuses);
    }
}
