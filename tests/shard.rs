//! `batchkit shard` end to end.

use std::fs;

use crate::util::{code, fixture, json_lines, run};

fn req(i: usize, model: &str) -> String {
    format!(
        "{{\"custom_id\":\"r{i}\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"{model}\",\"messages\":[{{\"role\":\"user\",\"content\":\"hello {i}\"}}]}}}}"
    )
}

/// Runs with stdin bytes; kills the run and fails (rather than hang) after a minute.
fn with_deadline(mut c: std::process::Command, stdin: &[u8], what: &str) -> std::process::Output {
    use std::io::{Read, Write};
    use std::process::Stdio;
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn batchkit");
    let mut si = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = si.write_all(&data);
    });
    let mut so = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: no exit within 60 s (killed)");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    writer.join().unwrap();
    let stdout = reader.join().unwrap();
    let mut stderr = Vec::new();
    let _ = child.stderr.take().unwrap().read_to_end(&mut stderr);
    std::process::Output {
        status,
        stdout,
        stderr,
    }
}

fn files(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

bktest!(cuts_to_caps_and_prints_json_lines, |dir| {
    let data: String = (0..7).map(|i| req(i, "gpt-4o") + "\r\n").collect();
    dir.write("in.jsonl", &data);
    let out = run({
        let mut c = dir.cmd();
        c.args([
            "--format",
            "json",
            "shard",
            "in.jsonl",
            "-o",
            "out",
            "--max-requests",
            "3",
        ]);
        c
    });
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let ev = json_lines(&out);
    let types: Vec<&str> = ev.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["shard", "shard", "shard", "summary"]);
    assert_eq!(ev[0]["file"], "in-00001.jsonl");
    assert_eq!(ev[2]["requests"], 1);
    assert_eq!(ev[3]["shards"], 3);
    assert_eq!(ev[3]["written"], true);
    assert_eq!(ev[3]["ok"], true);
    assert_eq!(
        files(&dir.join("out")),
        [
            "in-00001.jsonl",
            "in-00002.jsonl",
            "in-00003.jsonl",
            "manifest.json"
        ]
    );
    let back: Vec<u8> = (1..=3)
        .flat_map(|n| fs::read(dir.join(&format!("out/in-0000{n}.jsonl"))).unwrap())
        .collect();
    assert_eq!(back, data.as_bytes());
    let m: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("out/manifest.json")).unwrap()).unwrap();
    assert_eq!(m["provider"], "openai");
    assert_eq!(m["caps"]["max_requests"], 3);
    assert_eq!(m["caps"]["max_bytes"], 209_715_200);
    assert_eq!(m["input"]["lines"], 7);
    assert_eq!(m["shards"][1]["first_line"], 4);
    assert_eq!(m["shards"][1]["sha256"].as_str().unwrap().len(), 64);
    assert!(m["rejected"].is_null());
});

bktest!(size_flags_resolve_in_both_units, |dir| {
    let data: String = (0..40).map(|i| req(i, "gpt-4o") + "\n").collect();
    dir.write("in.jsonl", &data);
    for (flag, want) in [
        ("1KiB", 1024),
        ("1kB", 1000),
        ("1.5KB", 1500),
        ("2000", 2000),
    ] {
        let o = format!("out-{flag}");
        let out = run({
            let mut c = dir.cmd();
            c.args([
                "--format",
                "json",
                "shard",
                "in.jsonl",
                "-o",
                &o,
                "--max-bytes",
                flag,
            ]);
            c
        });
        assert_eq!(
            code(&out),
            0,
            "{flag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let m: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join(&format!("{o}/manifest.json"))).unwrap())
                .unwrap();
        assert_eq!(m["caps"]["max_bytes"], want, "{flag}");
        for s in m["shards"].as_array().unwrap() {
            assert!(s["bytes"].as_u64().unwrap() <= want);
        }
    }
    for bad in [
        ["--max-bytes", "12XB"],
        ["--max-bytes", "0"],
        ["--max-requests", "0"],
        ["--provider", "nope"],
    ] {
        let out = run({
            let mut c = dir.cmd();
            c.args(["shard", "in.jsonl", "-o", "bad"]).args(bad);
            c
        });
        assert_eq!(code(&out), 2, "{bad:?}");
        assert!(!dir.join("bad").exists());
    }
});

bktest!(invalid_lines_are_refused_with_diagnostics, |dir| {
    dir.write(
        "in.jsonl",
        format!("{}\n{{\"custom_id\":\n{}\n", req(1, "m"), req(2, "m")),
    );
    let out = run({
        let mut c = dir.cmd();
        c.args(["--format", "json", "shard", "in.jsonl", "-o", "out"]);
        c
    });
    assert_eq!(code(&out), 1);
    let ev = json_lines(&out);
    assert_eq!(ev[0]["type"], "diagnostic");
    assert_eq!(ev[0]["code"], "invalid_json");
    assert_eq!(ev[0]["line"], 2);
    assert_eq!(ev[0]["file"], "in.jsonl");
    let last = ev.last().unwrap();
    assert_eq!(last["type"], "summary");
    assert_eq!(last["written"], false);
    assert_eq!(last["refused"], "invalid_lines");
    assert!(!dir.join("out").exists());

    let human = run({
        let mut c = dir.cmd();
        c.args(["--format", "human", "shard", "in.jsonl", "-o", "out"]);
        c
    });
    assert_eq!(code(&human), 1);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("error[invalid_json]"), "{text}");
    assert!(text.contains("--> in.jsonl:2"), "{text}");
    assert!(text.contains("nothing written"), "{text}");
});

bktest!(skip_invalid_writes_rejects_and_exits_1, |dir| {
    let data = format!(
        "{}\nnot json\n{}\n\n{}",
        req(1, "m"),
        req(2, "m"),
        req(3, "m")
    );
    dir.write("in.jsonl", &data);
    let out = run({
        let mut c = dir.cmd();
        c.args([
            "--format",
            "json",
            "shard",
            "in.jsonl",
            "-o",
            "out",
            "--skip-invalid",
        ]);
        c
    });
    assert_eq!(code(&out), 1);
    assert_eq!(
        fs::read_to_string(dir.join("out/rejected.jsonl")).unwrap(),
        "not json\n\n"
    );
    assert_eq!(
        fs::read_to_string(dir.join("out/in-00001.jsonl")).unwrap(),
        format!("{}\n{}\n{}\n", req(1, "m"), req(2, "m"), req(3, "m"))
    );
    let last = json_lines(&out).pop().unwrap();
    assert_eq!(
        (last["rejected"].as_u64(), last["written"].as_bool()),
        (Some(2), Some(true))
    );
});

bktest!(a_line_over_the_byte_cap_exits_2_naming_it, |dir| {
    let long = req(2, "m").replace("hello 2", &"x".repeat(3000));
    dir.write("in.jsonl", format!("{}\n{long}\n", req(1, "m")));
    let out = run({
        let mut c = dir.cmd();
        c.args(["shard", "in.jsonl", "-o", "out", "--max-bytes", "2KB"]);
        c
    });
    assert_eq!(code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("in.jsonl:2:") && err.contains("byte cap of 2000 bytes"),
        "{err}"
    );
    assert!(!dir.join("out").exists());
});

bktest!(non_empty_dir_needs_force, |dir| {
    dir.write("in.jsonl", req(1, "m") + "\n");
    fs::create_dir(dir.join("out")).unwrap();
    dir.write("out/keep.txt", "x");
    let out = run({
        let mut c = dir.cmd();
        c.args(["shard", "in.jsonl", "-o", "out"]);
        c
    });
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert_eq!(files(&dir.join("out")), ["keep.txt"]);
    let out = run({
        let mut c = dir.cmd();
        c.args(["shard", "in.jsonl", "-o", "out", "--force"]);
        c
    });
    assert_eq!(code(&out), 0);
    assert_eq!(
        files(&dir.join("out")),
        ["in-00001.jsonl", "keep.txt", "manifest.json"]
    );
});

bktest!(stdin_split_by_model_and_threads_agree, |dir| {
    let models = ["gpt-4o", "gpt-4o-mini"];
    let data: String = (0..300)
        .map(|i| req(i, models[(i + i / 7) % 2]) + "\n")
        .collect();
    let mut seen = Vec::new();
    for threads in ["1", "4"] {
        let o = "out".to_string();
        let mut c = dir.cmd();
        c.args([
            "--threads",
            threads,
            "--format",
            "json",
            "shard",
            "-",
            "-o",
            &o,
        ])
        .args(["--split-by", "model", "--max-bytes", "5000"]);
        let out = with_deadline(c, data.as_bytes(), &format!("--threads {threads}"));
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
        let names = files(&dir.join(&o));
        assert!(
            names.contains(&"stdin-gpt-4o-mini-00001.jsonl".to_string()),
            "{names:?}"
        );
        let all: Vec<(String, Vec<u8>)> = names
            .iter()
            .map(|n| (n.clone(), fs::read(dir.join(&o).join(n)).unwrap()))
            .collect();
        seen.push((all, out.stdout));
        fs::remove_dir_all(dir.join(&o)).unwrap();
    }
    assert_eq!(seen[0], seen[1]);
});

bktest!(bundled_fixture_shards_exactly, |dir| {
    let input = fixture("shard/mixed-crlf.jsonl");
    let out = run({
        let mut c = dir.cmd();
        c.args(["--format", "json", "shard"]).arg(&input).args([
            "-o",
            "out",
            "--max-requests",
            "2",
            "--skip-invalid",
        ]);
        c
    });
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let m: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("out/manifest.json")).unwrap()).unwrap();
    let mut lines: Vec<(u64, Vec<u8>)> = Vec::new();
    for s in m["shards"].as_array().unwrap() {
        let bytes = fs::read(dir.join("out").join(s["file"].as_str().unwrap())).unwrap();
        let first = s["first_line"].as_u64().unwrap();
        for (k, l) in bytes.split_inclusive(|b| *b == b'\n').enumerate() {
            lines.push((first + k as u64, l.to_vec()));
        }
    }
    let mut original = fs::read(&input).unwrap();
    assert!(!original.ends_with(b"\n"));
    original.push(b'\n'); // the one byte shard adds: a final newline
    let rejected = fs::read(dir.join("out/rejected.jsonl")).unwrap();
    let mut rebuilt: Vec<u8> = lines.iter().flat_map(|(_, l)| l.clone()).collect();
    rebuilt.extend(&rejected);
    let mut a: Vec<&[u8]> = original.split_inclusive(|b| *b == b'\n').collect();
    let mut b: Vec<&[u8]> = rebuilt.split_inclusive(|b| *b == b'\n').collect();
    a.sort();
    b.sort();
    assert_eq!(a, b, "shards + rejects hold every input line once");
});
