//! `Encoding::count` must equal tiktoken-rs's `encode_ordinary(..).len()`, the reference
//! (itself checked against Python tiktoken in the workspace tests), for both encodings.

use batchkit_tokens::Encoding;
use proptest::prelude::*;

fn reference(enc: Encoding, text: &str) -> usize {
    let bpe = match enc {
        Encoding::O200kBase | Encoding::O200kHarmony => tiktoken_rs::o200k_base_singleton(),
        Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
    };
    bpe.encode_ordinary(text).len()
}

fn assert_exact(text: &str) {
    for enc in [
        Encoding::O200kBase,
        Encoding::Cl100kBase,
        Encoding::O200kHarmony,
    ] {
        assert_eq!(
            enc.count(text) as usize,
            reference(enc, text),
            "{} on {text:?}",
            enc.name()
        );
    }
}

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "The",
    "THE",
    "tokenizer",
    "Tokenizer",
    "JSONL",
    "HTTP",
    "don't",
    "I'll",
    "we've",
    "they're",
    "IT'S",
    "Straße",
    "naïve",
    "café",
    "東京",
    "данные",
    "Данные",
    "ציון",
    "مرحبا",
    "🙂",
    "🚀",
    "👍🏽",
    "½",
    "x²",
    "fn()",
    "{}",
    "=>",
    "!=",
    "0x1F",
    "3.14159",
    "1,000,000",
    "١٢٣٤",
    "हिन्दी",
    "ภาษาไทย",
    "한국어",
    "日本語のテキスト",
    "Ελληνικά",
    "ǅ",
    "\n",
    "\r\n",
    "\n\n   ",
    "\t",
    "  ",
    "\u{a0}",
    "\u{3000}",
    "'s",
    "'S",
    "'ll",
    "//",
    "/",
    "<|endoftext|>",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "ſ",
    "\u{301}",
    "😀😁😂🤣",
];

fn words() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        8 => proptest::sample::select(WORDS).prop_map(str::to_string),
        2 => "[a-zA-Z0-9' \n\r\t./-]{1,12}",
        1 => any::<char>().prop_map(String::from),
    ];
    let sep = proptest::sample::select(&["", " ", "  ", "\n", "'", "\t"][..]);
    proptest::collection::vec((word, sep), 0..80)
        .prop_map(|v| v.into_iter().map(|(w, s)| w + s).collect::<String>())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn counts_equal_tiktoken(text in words()) {
        assert_exact(&text);
    }

    #[test]
    fn counts_of_arbitrary_text_equal_tiktoken(text in "\\PC{0,60}") {
        assert_exact(&text);
    }

    /// Runs of Chinese, Japanese and Hindi are single pieces of 20 to 300 bytes, nearly all
    /// never seen before: the byte-pair merge runs on each (in the short and long memo
    /// tables, and past them).
    #[test]
    fn unspaced_scripts_count_the_same(
        chars in proptest::collection::vec(proptest::sample::select(&[
            '的', '数', '据', '处', '理', '文', '件', '请', '求', '模', '型', '我', '们',
            'デ', 'ー', 'タ', 'を', 'は', 'し', 'ま', 'す', '処', '確', '認',
            'ह', 'ि', 'न', '्', 'द', 'ी', '한', '국', '어', '🙂', '👍', '\u{1f3fd}',
            '\u{200d}', '，', '。', '、',
        ][..]), 1..100),
    ) {
        assert_exact(&chars.into_iter().collect::<String>());
    }

    /// Pieces of 100 bytes and more take the heap merge; they must count the same.
    #[test]
    fn long_pieces_count_the_same(
        unit in "[a-zA-Z0-9+/=]{1,7}|[東京データ]{1,3}|[!?.#=*-]{1,3}|[а-я]{1,5}",
        times in 15usize..200,
    ) {
        assert_exact(&unit.repeat(times));
    }
}

#[test]
fn memo_gives_the_same_count_every_time() {
    let text = "Repeated words, repeated words: the memo must not change a count. 東京 東京";
    let first = Encoding::O200kBase.count(text);
    for _ in 0..3 {
        assert_eq!(Encoding::O200kBase.count(text), first);
    }
    assert_eq!(first as usize, reference(Encoding::O200kBase, text));
}

#[test]
fn memo_overflow_keeps_counts_exact() {
    // More distinct pieces than the memos hold, short and long (over 24 bytes): the
    // direct-mapped tables overwrite slots.
    let letters = |mut i: u32| {
        let mut w = String::new();
        for _ in 0..4 {
            w.push(char::from(b'a' + (i % 26) as u8));
            i /= 26;
        }
        w
    };
    let text: String = (0..70_000u32)
        .map(|i| {
            format!(
                " w{}x{} longlonglonglongword{}",
                letters(i),
                i * 7919,
                letters(i)
            )
        })
        .collect();
    assert_exact(&text);
}

#[test]
fn base64_and_unbroken_runs() {
    let b64: String = (0..3000u32)
        .map(|i| {
            char::from(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                    [(i * 37 % 64) as usize],
            )
        })
        .collect();
    assert_exact(&b64);
    assert_exact(&"a".repeat(5000));
    assert_exact(&" ".repeat(5000));
    assert_exact(&"\n".repeat(300));
    assert_exact(&"東".repeat(700));
    assert_exact(&"🙂".repeat(300));
}

#[test]
fn embedded_ranks_are_openais_published_files() {
    use sha2::{Digest, Sha256};
    // The hashes Python tiktoken checks its downloads against.
    for (file, sha) in [
        (
            include_str!("../assets/o200k_base.tiktoken"),
            "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        ),
        (
            include_str!("../assets/cl100k_base.tiktoken"),
            "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        ),
    ] {
        let digest = Sha256::digest(file.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, sha);
    }
}
