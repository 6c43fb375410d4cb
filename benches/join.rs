//! Hot paths of `batchkit join`: reading a result line (id, status, usage, answer text), reading
//! a request's id, hashing ids, the duplicate-result table, and rendering a merged line.

use std::hint::black_box;

use batchkit_join::hot;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const OK: &str = r#"{"id":"batch_req_0000002a","custom_id":"req-42","response":{"status_code":200,"request_id":"251f24ddd1572ad884f4af2c861c4439","body":{"id":"chatcmpl-42","object":"chat.completion","created":1711652795,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"AI learns patterns from data to make decisions or predictions, and this answer is long enough to look like a real one."},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":655,"completion_tokens":279,"total_tokens":934,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}},"system_fingerprint":"fp_123"}},"error":null}"#;
const HTTP400: &str = r#"{"id":"batch_req_1","custom_id":"req-5","response":{"status_code":400,"request_id":"0538a1cc","body":{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}},"error":null}"#;
const EXPIRED: &str = r#"{"id":"batch_req_123","custom_id":"request-3","response":null,"error":{"code":"batch_expired","message":"This request could not be executed before the completion window expired."}}"#;
const ANTHROPIC: &str = r#"{"custom_id":"my-second-request","result":{"type":"succeeded","message":{"id":"msg_014VwiXbi91y3JMjcpyGBHX5","type":"message","role":"assistant","model":"claude-opus-4-7","content":[{"type":"text","text":"Hello again! It's nice to see you. How can I assist you today?"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":11,"output_tokens":36}}}}"#;
const REQUEST: &str = r#"{"custom_id":"req-42","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like"}],"max_tokens":256}}"#;

fn results(c: &mut Criterion) {
    let mut g = c.benchmark_group("join/result_line");
    for (name, line) in [
        ("openai_ok", OK),
        ("openai_400", HTTP400),
        ("openai_expired", EXPIRED),
        ("anthropic", ANTHROPIC),
    ] {
        g.throughput(Throughput::Bytes(line.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| hot::result_status(black_box(line.as_bytes())))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("join/request_line");
    g.throughput(Throughput::Bytes(REQUEST.len() as u64));
    g.bench_function("chat_request_id", |b| {
        b.iter(|| hot::request_id(black_box(REQUEST.as_bytes())))
    });
    g.finish();
}

fn hashing(c: &mut Criterion) {
    let ids: Vec<String> = (0..10_000).map(|i| format!("req-{i}")).collect();
    let mut g = c.benchmark_group("join/hash_id");
    g.throughput(Throughput::Elements(ids.len() as u64));
    g.bench_function("xxh3_10k_ids", |b| {
        b.iter(|| {
            ids.iter()
                .fold(0u64, |acc, id| acc ^ hot::hash_id(black_box(id.as_bytes())))
        })
    });
    g.finish();
}

fn probe_and_render(c: &mut Criterion) {
    let ids: Vec<String> = (0..10_000).map(|i| format!("req-{i}")).collect();
    let refs: Vec<&[u8]> = ids.iter().map(|s| s.as_bytes()).collect();
    let mut g = c.benchmark_group("join/result_table");
    g.throughput(Throughput::Elements(ids.len() as u64));
    g.bench_function("insert_find_10k_ids", |b| {
        b.iter(|| hot::result_table(black_box(&refs)))
    });
    g.finish();

    let text = hot::result_text(OK.as_bytes());
    let mut g = c.benchmark_group("join/render");
    g.throughput(Throughput::Bytes((REQUEST.len() + 2 * OK.len()) as u64));
    let mut out = Vec::with_capacity(4096);
    g.bench_function("merged_line", |b| {
        b.iter(|| {
            out.clear();
            hot::render_merged(
                &mut out,
                black_box(REQUEST.as_bytes()),
                br#""req-42""#,
                black_box(OK.as_bytes()),
                text.as_deref(),
            );
            out.len()
        })
    });
    g.finish();
}

/// A request asking for a strict JSON schema and its answer: finding the schema (compiled
/// once, then found by its hash) and checking the answer against it.
fn answer_checks(c: &mut Criterion) {
    const SCHEMA_REQUEST: &str = r#"{"custom_id":"req-7","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Triage this ticket: the export button does nothing on Safari."}],"response_format":{"type":"json_schema","json_schema":{"name":"triage","strict":true,"schema":{"type":"object","properties":{"category":{"type":"string","enum":["bug","feature","question","billing"]},"priority":{"type":"integer","minimum":1,"maximum":5},"summary":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}}},"required":["category","priority","summary","tags"],"additionalProperties":false}}}}}"#;
    const ANSWER: &str = r#"{"id":"batch_req_7","custom_id":"req-7","response":{"status_code":200,"body":{"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"{"category":"bug","priority":2,"summary":"Export button unresponsive in Safari — likely a blocked download; reproduce on macOS 15.","tags":["export","safari","ui","日本語"]}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":80,"completion_tokens":40}}},"error":null}"#;
    let check = hot::AnswerCheck::default();
    assert_eq!(
        check.check(SCHEMA_REQUEST.as_bytes(), ANSWER.as_bytes()),
        None
    );
    let mut g = c.benchmark_group("join/answer_check");
    g.throughput(Throughput::Elements(1));
    g.bench_function("json_schema_request_and_answer", |b| {
        b.iter(|| {
            check.check(
                black_box(SCHEMA_REQUEST.as_bytes()),
                black_box(ANSWER.as_bytes()),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, results, hashing, probe_and_render, answer_checks);
criterion_main!(benches);
