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
        None,
        |d| got.push((d.code, d.line)),
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
    let s = fc.finish(&stats, |x| d.push(x.clone())).unwrap();
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
        id_memory_limit: 8 << 10,
        ..Default::default()
    })
    .unwrap();
    let mut got = Vec::new();
    let s = validate_file(
        &checker,
        &Input::path(&p),
        &ReadOptions::default(),
        None,
        |d| got.push((d.code, d.line, d.first_line)),
    )
    .unwrap();
    assert_eq!(got, vec![(Code::DuplicateId, Some(3001), Some(8))]);
    assert_eq!(s.errors, 1);
}
