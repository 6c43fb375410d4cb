use super::*;
use batchkit_io::{Chunk, Input, ReadOptions};

fn check(lines: &str, provider: Option<&str>) -> (Vec<(Code, Option<u64>)>, FileSummary) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.jsonl");
    std::fs::write(&p, lines).unwrap();
    let checker = Checker::new(&CheckOptions {
        provider: provider.map(str::to_string),
        ..Default::default()
    })
    .unwrap();
    let mut got = Vec::new();
    let s = validate_file(
        &checker,
        &Input::path(&p),
        &ReadOptions::default(),
        &mut |_: &str, d: &Diagnostic| {
            got.push((d.code, d.line));
            Ok::<bool, ValidateError>(true)
        },
    )
    .unwrap();
    (got, s)
}

fn oai(id: &str, url: &str, model: &str) -> String {
    format!(
        r#"{{"custom_id":"{id}","method":"POST","url":"{url}","body":{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}}}"#
    )
}

#[test]
fn a_clean_openai_file_passes() {
    let f = format!(
        "{}\n{}\n",
        oai("a", "/v1/chat/completions", "gpt-4o"),
        oai("b", "/v1/chat/completions", "gpt-4o")
    );
    let (d, s) = check(&f, None);
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(
        (s.requests, s.lines, s.ok, s.provider.as_deref()),
        (2, 2, true, Some("openai"))
    );
}

#[test]
fn mismatches_follow_the_first_valid_request() {
    let f = [
        "{bad".to_string(),
        oai("a", "/v1/chat/completions", "gpt-4o"),
        oai("b", "/v1/embeddings", "gpt-4o"),
        oai("c", "/v1/chat/completions", "gpt-4o-mini"),
    ]
    .join("\n");
    let (d, _) = check(&f, None);
    assert_eq!(
        d,
        vec![
            (Code::InvalidJson, Some(1)),
            (Code::MissingField, Some(3)),
            (Code::UrlMismatch, Some(3)),
            (Code::ModelMismatch, Some(4))
        ]
    );
}

#[test]
fn groq_allows_mixed_models() {
    let f = format!(
        "{}\n{}\n",
        oai("a", "/v1/chat/completions", "x"),
        oai("b", "/v1/chat/completions", "y")
    );
    assert!(check(&f, Some("groq")).0.is_empty());
}

#[test]
fn anthropic_rules() {
    let f = concat!(
        r#"{"custom_id":"ok-1","params":{"model":"claude","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}}"#,
        "\n",
        r#"{"custom_id":"bad id","params":{"model":"claude","max_tokens":0,"messages":{}}}"#,
        "\n",
        r#"{"custom_id":"ok-3","params":{"max_tokens":"10","messages":[{"role":"user","content":"hi"}]}}"#,
        "\n",
    );
    let (d, s) = check(f, None);
    assert_eq!(s.provider.as_deref(), Some("anthropic"));
    assert_eq!(
        d,
        vec![
            (Code::InvalidCustomId, Some(2)),
            (Code::WrongType, Some(2)),
            (Code::WrongType, Some(2)),
            (Code::MissingField, Some(3)),
            (Code::WrongType, Some(3)),
        ]
    );
}

#[test]
fn azure_bom_is_an_error_elsewhere_a_warning() {
    let f = format!("\u{feff}{}\n", oai("a", "/v1/chat/completions", "dep"));
    let (d, s) = check(&f, Some("azure"));
    assert_eq!(d, vec![(Code::Utf8Bom, Some(1))]);
    assert!(!s.ok);
    let (d, s) = check(&f, None);
    assert_eq!(d, vec![(Code::Utf8Bom, Some(1))]);
    assert!(s.ok, "a warning only");
}

#[test]
fn file_caps_name_the_shard_count() {
    let mut f = String::new();
    for i in 0..5 {
        f.push_str(&format!(
            "{{\"custom_id\":\"r{i}\",\"body\":{{\"model\":\"m\"}}}}\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.jsonl");
    std::fs::write(&p, &f).unwrap();
    let checker = Checker::new(&CheckOptions {
        provider: Some("together".into()),
        ..Default::default()
    })
    .unwrap();
    let mut fc = FileChecker::new(&checker, "t.jsonl");
    let data = std::fs::read(&p).unwrap();
    let chunk = Chunk {
        seq: 0,
        offset: 0,
        first_line: 1,
        data,
        oversized: None,
        source_pos: 0,
    };
    for mut r in checker.check_chunk(&chunk) {
        fc.observe(&mut r).unwrap();
        assert!(r.is_valid(), "{:?}", r.diagnostics);
    }
    let stats = batchkit_io::ReadStats {
        lines: 5,
        bytes: 200_000_001,
        final_newline: true,
        ..Default::default()
    };
    let mut d = Vec::new();
    let s = fc
        .finish(&stats, |x| {
            d.push(x.clone());
            Ok::<bool, ValidateError>(true)
        })
        .unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].code, Code::FileTooLarge);
    assert!(
        d[0].message.contains("would make 1 files"),
        "{}",
        d[0].message
    );
    assert_eq!(s.errors, 1);
}

#[test]
fn duplicates_after_a_spill_are_reported_late_but_exactly() {
    let mut f = String::new();
    for i in 0..3000 {
        f.push_str(&oai(&format!("id-{i}"), "/v1/chat/completions", "m"));
        f.push('\n');
    }
    f.push_str(&oai("id-7", "/v1/chat/completions", "m"));
    f.push('\n');
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.jsonl");
    std::fs::write(&p, &f).unwrap();
    let checker = Checker::new(&CheckOptions {
        budget: batchkit_io::Budget::default().with_tables(8 << 10),
        ..Default::default()
    })
    .unwrap();
    let mut got = Vec::new();
    let s = validate_file(
        &checker,
        &Input::path(&p),
        &ReadOptions::default(),
        &mut |_: &str, d: &Diagnostic| {
            got.push((d.code, d.line, d.first_line));
            Ok::<bool, ValidateError>(true)
        },
    )
    .unwrap();
    assert_eq!(got, vec![(Code::DuplicateId, Some(3001), Some(8))]);
    assert_eq!(s.errors, 1);
}

fn bedrock(id: &str) -> String {
    format!(
        r#"{{"recordId":"{id}","modelInput":{{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"messages":[{{"role":"user","content":[{{"type":"text","text":"Hi"}}]}}]}}}}"#
    )
}

#[test]
fn bedrock_lines_are_detected_and_need_100_records() {
    let hundred: String = (0..100).map(|i| bedrock(&format!("r{i}")) + "\n").collect();
    for provider in [None, Some("bedrock")] {
        let (d, s) = check(&hundred, provider);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!((s.requests, s.provider.as_deref()), (100, Some("bedrock")));
    }
    let few: String = (0..3).map(|i| bedrock(&format!("r{i}")) + "\n").collect();
    let (d, s) = check(&few, None);
    assert_eq!(d, vec![(Code::TooFewRequests, None)]);
    assert!(!s.ok);
    // Other providers have no minimum.
    let (d, _) = check(&oai("a", "/v1/chat/completions", "gpt-4o"), Some("openai"));
    assert!(d.is_empty(), "{d:?}");
}

#[test]
fn bedrock_line_rules() {
    let mut lines: Vec<String> = (0..100).map(|i| bedrock(&format!("r{i}"))).collect();
    lines.extend([
        r#"{"modelInput":{"inputText":"no id"}}"#.to_string(),
        r#"{"recordId":7,"modelInput":{"prompt":"x"}}"#.to_string(),
        r#"{"recordId":"s","modelInput":"text"}"#.to_string(),
        r#"{"recordId":"c1","modelInput":{"anthropic_version":"bedrock-2023-05-31","messages":[]}}"#
            .to_string(),
        r#"{"recordId":"c2","modelInput":{"anthropic_version":"bedrock-2023-05-31","max_tokens":0,"messages":{}}}"#
            .to_string(),
        r#"{"recordId":"n1","modelInput":{"messages":[{"role":"user","content":[{"text":"Hi"}]}],"inferenceConfig":{"maxTokens":10}}}"#
            .to_string(),
        bedrock("r5"),
    ]);
    let (d, _) = check(&(lines.join("\n") + "\n"), Some("bedrock"));
    assert_eq!(
        d,
        vec![
            (Code::MissingField, Some(101)),
            (Code::WrongType, Some(102)),
            (Code::WrongType, Some(103)),
            (Code::MissingField, Some(104)),
            (Code::WrongType, Some(105)),
            (Code::WrongType, Some(105)),
            (Code::DuplicateId, Some(107)),
        ]
    );
}

#[test]
fn xai_and_openai_compatible_take_mixed_files() {
    let f = [
        oai("a", "/v1/chat/completions", "grok-4"),
        oai("b", "/v1/images/generations", "grok-imagine-image"),
        oai("c", "/v1/moderations", "grok-4"),
    ]
    .join("\n");
    let (d, s) = check(&f, Some("xai"));
    assert_eq!(
        d,
        vec![
            (Code::UnsupportedUrl, Some(3)),
            (Code::MissingField, Some(3))
        ]
    );
    assert_eq!(s.provider.as_deref(), Some("xai"));
    let f = [
        oai("a", "/v1/chat/completions", "meta-llama/Llama-3.1-8B-Instruct"),
        oai("b", "/v1/score", "BAAI/bge-reranker-v2-m3"),
        oai("c", "/v1/rerank", "BAAI/bge-reranker-v2-m3"),
        r#"{"custom_id":"d","method":"POST","url":"/v1/embeddings","body":{"model":"intfloat/e5-small","input":"hi"}}"#.to_string(),
    ]
    .join("\n");
    let (d, _) = check(&f, Some("openai-compatible"));
    assert!(d.is_empty(), "{d:?}");
    // The same file is three mistakes for OpenAI.
    let (d, _) = check(&f, Some("openai"));
    assert!(d.contains(&(Code::UnsupportedUrl, Some(2))), "{d:?}");
}

#[test]
fn xai_requests_over_25_mb() {
    let big = format!(
        r#"{{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{{"model":"grok-4","messages":[{{"role":"user","content":"{}"}}]}}}}"#,
        "x".repeat(25_000_000)
    );
    let (d, _) = check(&(big + "\n"), Some("xai"));
    assert_eq!(d, vec![(Code::LineTooLarge, Some(1))]);
}
