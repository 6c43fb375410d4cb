//! The pre-tokenizers of `o200k_base` and `cl100k_base`, written out by hand.
//!
//! tiktoken splits text with a backtracking regex before the byte-pair merge; that regex is
//! most of its time. The functions here give the same pieces, alternative by alternative, in
//! the regex's leftmost-first order (each alternative's comment is its part of the pattern).
//! The character classes are read from `regex-syntax`, the tables the regex itself uses, so
//! a Unicode update changes both alike. The tests compare the pieces with tiktoken-rs.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex_syntax::hir::{Class, HirKind};

/// `\p{Lu}` or `\p{Lt}`.
const LU: u8 = 1;
/// `\p{Ll}`.
const LL: u8 = 2;
/// `\p{Lm}` or `\p{Lo}`.
const LO: u8 = 4;
/// `\p{M}`.
const MK: u8 = 8;
/// `\p{N}`.
const NUM: u8 = 16;
/// `\s` (Unicode White_Space).
const WS: u8 = 32;
/// `\r` or `\n`.
const CRLF: u8 = 64;

const LETTER: u8 = LU | LL | LO;
/// o200k's `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`.
const UPPERISH: u8 = LU | LO | MK;
/// o200k's `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`.
const LOWERISH: u8 = LL | LO | MK;

/// `[^\r\n\p{L}\p{N}]`.
#[inline]
fn is_prefix(c: u8) -> bool {
    c & (LETTER | NUM | CRLF) == 0
}

/// `[^\s\p{L}\p{N}]`.
#[inline]
fn is_punct(c: u8) -> bool {
    c & (WS | LETTER | NUM) == 0
}

const BLOCK_BITS: u32 = 7;
const BLOCK: usize = 1 << BLOCK_BITS;

/// Class bits of every code point: a two-level table (blocks of 128 code points, identical
/// blocks shared), about 40 KiB.
struct Classes {
    ascii: [u8; 128],
    index: Vec<u16>,
    blocks: Vec<u8>,
}

fn class_ranges(pattern: &str) -> Vec<(u32, u32)> {
    let hir = regex_syntax::Parser::new()
        .parse(pattern)
        .expect("a valid Unicode class");
    match hir.kind() {
        HirKind::Class(Class::Unicode(class)) => class
            .ranges()
            .iter()
            .map(|r| (u32::from(r.start()), u32::from(r.end())))
            .collect(),
        other => unreachable!("{pattern} is not a Unicode class: {other:?}"),
    }
}

impl Classes {
    fn build() -> Classes {
        let mut all = vec![0u8; 0x11_0000];
        let sets: [(&str, u8); 10] = [
            (r"\p{Lu}", LU),
            (r"\p{Lt}", LU),
            (r"\p{Ll}", LL),
            (r"\p{Lm}", LO),
            (r"\p{Lo}", LO),
            (r"\p{M}", MK),
            (r"\p{N}", NUM),
            (r"\s", WS),
            (r"[\r\n]", CRLF),
            // Checks the letter subsets cover `\p{L}` (the assert below).
            (r"\p{L}", 0),
        ];
        for (pattern, bit) in sets {
            for (lo, hi) in class_ranges(pattern) {
                for c in &mut all[lo as usize..=hi as usize] {
                    debug_assert!(bit != 0 || *c & LETTER != 0);
                    *c |= bit;
                }
            }
        }
        let mut ascii = [0u8; 128];
        ascii.copy_from_slice(&all[..128]);
        let mut seen: HashMap<&[u8], u16> = HashMap::new();
        let mut index = Vec::with_capacity(all.len() / BLOCK);
        let mut blocks = Vec::new();
        for block in all.chunks(BLOCK) {
            let id = *seen.entry(block).or_insert_with(|| {
                blocks.extend_from_slice(block);
                (blocks.len() / BLOCK - 1) as u16
            });
            index.push(id);
        }
        Classes {
            ascii,
            index,
            blocks,
        }
    }

    /// Class bits and byte length of the character starting at `s[i]` (`s` is valid UTF-8).
    #[inline(always)]
    fn at(&self, s: &[u8], i: usize) -> (u8, usize) {
        let b0 = s[i];
        if b0 < 0x80 {
            return (self.ascii[usize::from(b0)], 1);
        }
        let (cp, len) = if b0 < 0xE0 {
            ((u32::from(b0 & 0x1F) << 6) | u32::from(s[i + 1] & 0x3F), 2)
        } else if b0 < 0xF0 {
            (
                (u32::from(b0 & 0x0F) << 12)
                    | (u32::from(s[i + 1] & 0x3F) << 6)
                    | u32::from(s[i + 2] & 0x3F),
                3,
            )
        } else {
            (
                (u32::from(b0 & 0x07) << 18)
                    | (u32::from(s[i + 1] & 0x3F) << 12)
                    | (u32::from(s[i + 2] & 0x3F) << 6)
                    | u32::from(s[i + 3] & 0x3F),
                4,
            )
        };
        let block = usize::from(self.index[(cp >> BLOCK_BITS) as usize]);
        (
            self.blocks[block * BLOCK + (cp as usize & (BLOCK - 1))],
            len,
        )
    }

    /// End of the run of characters whose class meets `mask`, from `i`.
    #[inline(always)]
    fn run(&self, s: &[u8], mut i: usize, mask: u8) -> usize {
        while i < s.len() {
            let (c, len) = self.at(s, i);
            if c & mask == 0 {
                break;
            }
            i += len;
        }
        i
    }
}

fn classes() -> &'static Classes {
    static CLASSES: OnceLock<Classes> = OnceLock::new();
    CLASSES.get_or_init(Classes::build)
}

/// Builds the class table now (for benchmarks and warm-up).
pub(crate) fn warm_up() {
    let _ = classes();
}

/// Length of `s[i..]`'s leading case-insensitive `s` (also `ſ`, U+017F, which folds to it),
/// or 0.
#[inline]
fn letter_s(s: &[u8], i: usize) -> usize {
    match s.get(i..) {
        Some([b's' | b'S', ..]) => 1,
        Some([0xC5, 0xBF, ..]) => 2,
        _ => 0,
    }
}

#[inline]
fn byte_ci(s: &[u8], i: usize, lower: u8) -> bool {
    s.get(i).is_some_and(|b| b.to_ascii_lowercase() == lower)
}

/// o200k's `(?i:'s|'t|'re|'ve|'m|'ll|'d)?` at `i`: where the piece ends.
#[inline]
fn o200k_contraction(s: &[u8], i: usize) -> usize {
    if s.get(i) != Some(&b'\'') {
        return i;
    }
    let j = i + 1;
    let n = letter_s(s, j);
    if n > 0 {
        return j + n;
    }
    if byte_ci(s, j, b't') || byte_ci(s, j, b'm') || byte_ci(s, j, b'd') {
        return j + 1;
    }
    if (byte_ci(s, j, b'r') || byte_ci(s, j, b'v')) && byte_ci(s, j + 1, b'e')
        || byte_ci(s, j, b'l') && byte_ci(s, j + 1, b'l')
    {
        return j + 2;
    }
    i
}

/// cl100k's `'(?i:[sdmt]|ll|ve|re)` at `i`, or `None`.
#[inline]
fn cl100k_contraction(s: &[u8], i: usize) -> Option<usize> {
    if s.get(i) != Some(&b'\'') {
        return None;
    }
    let j = i + 1;
    let n = letter_s(s, j);
    if n > 0 {
        return Some(j + n);
    }
    if byte_ci(s, j, b'd') || byte_ci(s, j, b'm') || byte_ci(s, j, b't') {
        return Some(j + 1);
    }
    if byte_ci(s, j, b'l') && byte_ci(s, j + 1, b'l')
        || (byte_ci(s, j, b'v') || byte_ci(s, j, b'r')) && byte_ci(s, j + 1, b'e')
    {
        return Some(j + 2);
    }
    None
}

/// The whitespace run from `i` (a whitespace character): its end, the start of its last
/// character, and the end of its last `\r`/`\n` if it has one.
#[inline]
fn space_run(t: &Classes, s: &[u8], i: usize) -> (usize, usize, Option<usize>) {
    let mut j = i;
    let mut last = i;
    let mut newline_end = None;
    while j < s.len() {
        let (c, len) = t.at(s, j);
        if c & WS == 0 {
            break;
        }
        if c & CRLF != 0 {
            newline_end = Some(j + len);
        }
        last = j;
        j += len;
    }
    (j, last, newline_end)
}

/// `[^\s\p{L}\p{N}]+` then a run of `extra` bytes (`\r`, `\n`, and `/` for o200k), from `i`,
/// the first character being punctuation.
#[inline]
fn punct_piece(t: &Classes, s: &[u8], i: usize, slash: bool) -> usize {
    let mut j = i;
    while j < s.len() {
        let (c, len) = t.at(s, j);
        if !is_punct(c) {
            break;
        }
        j += len;
    }
    while j < s.len() && (s[j] == b'\r' || s[j] == b'\n' || slash && s[j] == b'/') {
        j += 1;
    }
    j
}

/// `U* L+` (o200k's first alternative, after its optional prefix): `U` greedy, giving back
/// characters until one of `L` follows.
#[inline]
fn upper_star_lower_plus(t: &Classes, s: &[u8], start: usize) -> Option<usize> {
    let mut j = start;
    let mut last_lower_end = None;
    while j < s.len() {
        let (c, len) = t.at(s, j);
        if c & UPPERISH == 0 {
            break;
        }
        j += len;
        if c & LOWERISH != 0 {
            last_lower_end = Some(j);
        }
    }
    let k = t.run(s, j, LOWERISH);
    if k > j {
        Some(k)
    } else {
        // Backtracking `U*` until `L+` matches ends at the last `U` that is also `L` (the
        // character after it is neither, or `L+` would have run on).
        last_lower_end
    }
}

/// `U+ L*` (o200k's second alternative, after its optional prefix).
#[inline]
fn upper_plus_lower_star(t: &Classes, s: &[u8], start: usize) -> Option<usize> {
    let j = t.run(s, start, UPPERISH);
    (j > start).then(|| t.run(s, j, LOWERISH))
}

/// The alternatives both patterns share after their letter ones, at `i` (class `c0`, length
/// `l0`): `\p{N}{1,3}`, then ` ?[^\s\p{L}\p{N}]+` with its `[\r\n]*` tail (and `/` in it
/// with `slash`, o200k's `[\r\n/]*`). `None` when neither starts there.
#[inline]
fn digits_or_punct(
    t: &Classes,
    s: &[u8],
    i: usize,
    c0: u8,
    l0: usize,
    slash: bool,
) -> Option<usize> {
    if c0 & NUM != 0 {
        let mut j = i + l0;
        for _ in 0..2 {
            if j >= s.len() {
                break;
            }
            let (c, len) = t.at(s, j);
            if c & NUM == 0 {
                break;
            }
            j += len;
        }
        return Some(j);
    }
    if s[i] == b' ' && i + 1 < s.len() && is_punct(t.at(s, i + 1).0) {
        return Some(punct_piece(t, s, i + 1, slash));
    }
    is_punct(c0).then(|| punct_piece(t, s, i, slash))
}

/// End of the o200k piece starting at `i`:
/// `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
/// `|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
/// `|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
fn o200k_piece(t: &Classes, s: &[u8], i: usize) -> usize {
    // Fast path for the commonest piece, an ASCII lower-case word with or without its leading
    // space: `U*` matches nothing and `L+` runs over `[a-z]`; when it stops at an ASCII byte
    // (no ASCII byte is a letter or mark but `[a-zA-Z]`, so `L+` cannot go on), the piece
    // ends there, contraction aside. A non-ASCII byte takes the general path.
    let w = i + usize::from(s[i] == b' ');
    if s.get(w).is_some_and(u8::is_ascii_lowercase) {
        let mut j = w + 1;
        while j < s.len() && s[j].is_ascii_lowercase() {
            j += 1;
        }
        if j == s.len() || s[j] < 0x80 && !s[j].is_ascii_uppercase() {
            return o200k_contraction(s, j);
        }
    }
    let (c0, l0) = t.at(s, i);
    let prefixed = is_prefix(c0) && i + l0 < s.len();
    // Alternatives 1 and 2, each tried with the optional prefix taken first, then without.
    if prefixed {
        if let Some(e) = upper_star_lower_plus(t, s, i + l0) {
            return o200k_contraction(s, e);
        }
    }
    if c0 & (LETTER | MK) != 0 {
        if let Some(e) = upper_star_lower_plus(t, s, i) {
            return o200k_contraction(s, e);
        }
    }
    if prefixed {
        if let Some(e) = upper_plus_lower_star(t, s, i + l0) {
            return o200k_contraction(s, e);
        }
    }
    if c0 & (LETTER | MK) != 0 {
        if let Some(e) = upper_plus_lower_star(t, s, i) {
            return o200k_contraction(s, e);
        }
    }
    // `\p{N}{1,3}`, then ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
    if let Some(e) = digits_or_punct(t, s, i, c0, l0, true) {
        return e;
    }
    // Whitespace: `\s*[\r\n]+`, then `\s+(?!\S)`, then `\s+`.
    let (end, last, newline_end) = space_run(t, s, i);
    if let Some(e) = newline_end {
        return e;
    }
    if end == s.len() {
        return end;
    }
    if last > i {
        return last;
    }
    end.max(i + l0)
}

/// End of the cl100k piece starting at `i`:
/// `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+`
/// `|\s++$|\s*[\r\n]|\s+(?!\S)|\s`
fn cl100k_piece(t: &Classes, s: &[u8], i: usize) -> usize {
    if let Some(e) = cl100k_contraction(s, i) {
        return e;
    }
    let (c0, l0) = t.at(s, i);
    // `[^\r\n\p{L}\p{N}]?+\p{L}++`: a prefix character, when there is one, must be taken.
    if is_prefix(c0) {
        if i + l0 < s.len() && t.at(s, i + l0).0 & LETTER != 0 {
            return t.run(s, i + l0, LETTER);
        }
    } else if c0 & LETTER != 0 {
        return t.run(s, i, LETTER);
    }
    // `\p{N}{1,3}+`, then ` ?[^\s\p{L}\p{N}]++[\r\n]*+`
    if let Some(e) = digits_or_punct(t, s, i, c0, l0, false) {
        return e;
    }
    // Whitespace: `\s++$`, then `\s*[\r\n]`, then `\s+(?!\S)`, then `\s`.
    let (end, last, newline_end) = space_run(t, s, i);
    if end == s.len() {
        return end;
    }
    if let Some(e) = newline_end {
        return e;
    }
    if last > i {
        return last;
    }
    i + l0
}

/// Which pre-tokenizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pattern {
    O200k,
    Cl100k,
}

/// Calls `piece` with each pre-token of `text`, in order; they concatenate to `text`.
#[inline]
pub(crate) fn split(pattern: Pattern, text: &str, mut piece: impl FnMut(&[u8])) {
    let t = classes();
    let s = text.as_bytes();
    let mut i = 0;
    while i < s.len() {
        let end = match pattern {
            Pattern::O200k => o200k_piece(t, s, i),
            Pattern::Cl100k => cl100k_piece(t, s, i),
        };
        piece(&s[i..end]);
        i = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(pattern: Pattern, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        split(pattern, text, |p| {
            out.push(String::from_utf8(p.to_vec()).unwrap())
        });
        out
    }

    #[test]
    fn known_splits() {
        assert_eq!(
            pieces(Pattern::O200k, "Hello world! don't  stop\n\n  x"),
            ["Hello", " world", "!", " don't", " ", " stop", "\n\n", " ", " x"]
        );
        assert_eq!(
            pieces(Pattern::Cl100k, "Hello world! don't  stop\n\n  x"),
            ["Hello", " world", "!", " don", "'t", " ", " stop", "\n\n", " ", " x"]
        );
        assert_eq!(pieces(Pattern::O200k, "12345"), ["123", "45"]);
        assert_eq!(pieces(Pattern::Cl100k, "  "), ["  "]);
    }

    #[test]
    fn case_folding_of_contractions_matches_the_regex() {
        // The splitter assumes only `ſ` folds onto a contraction letter besides ASCII case.
        let re = regex::Regex::new(r"^(?i:s|t|m|d|r|e|v|l)$").unwrap();
        let extra: Vec<char> = (0..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .filter(|c| !c.is_ascii() && re.is_match(c.encode_utf8(&mut [0; 4])))
            .collect();
        assert_eq!(extra, ['\u{17F}']);
    }

    /// tiktoken-rs's cl100k_base pattern, verbatim (it exports only the o200k one).
    const CL100K_PAT_STR: &str = "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}++|\\p{N}{1,3}+| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*+|\\s++$|\\s*[\\r\\n]|\\s+(?!\\S)|\\s";

    fn regex_pieces(re: &fancy_regex::Regex, text: &str) -> Vec<String> {
        re.find_iter(text)
            .map(|m| m.unwrap().as_str().to_string())
            .collect()
    }

    fn references() -> &'static [(Pattern, fancy_regex::Regex); 2] {
        static RE: OnceLock<[(Pattern, fancy_regex::Regex); 2]> = OnceLock::new();
        RE.get_or_init(|| {
            [
                (
                    Pattern::O200k,
                    fancy_regex::Regex::new(tiktoken_rs::O200K_BASE_PAT_STR).unwrap(),
                ),
                (
                    Pattern::Cl100k,
                    fancy_regex::Regex::new(CL100K_PAT_STR).unwrap(),
                ),
            ]
        })
    }

    fn assert_same_pieces(text: &str) {
        for (pattern, re) in references() {
            assert_eq!(
                pieces(*pattern, text),
                regex_pieces(re, text),
                "{pattern:?} on {text:?}"
            );
        }
    }

    /// Characters chosen to hit every class boundary the two patterns care about.
    const INTERESTING: &[char] = &[
        'a',
        'z',
        'A',
        'Z',
        'e',
        's',
        't',
        'm',
        'd',
        'l',
        'r',
        'v',
        'S',
        'T',
        'L',
        'R',
        'V',
        'E',
        'D',
        'M',
        '\'',
        '\u{17F}',
        '\u{2019}',
        '0',
        '9',
        ' ',
        ' ',
        ' ',
        '\t',
        '\n',
        '\r',
        '\u{b}',
        '\u{c}',
        '/',
        '.',
        ',',
        '!',
        '?',
        '-',
        '_',
        '(',
        ')',
        '{',
        '}',
        '<',
        '>',
        '#',
        '$',
        '"',
        '\u{a0}',
        '\u{85}',
        '\u{3000}',
        '\u{2028}',
        '\u{2029}',
        '\u{200b}',
        '\u{feff}',
        '\u{1680}',
        'é',
        'ß',
        'Ä',
        'ñ',
        '\u{1c5}',
        '\u{2b0}',
        '\u{3005}',
        'ª',
        '\u{301}',
        '\u{308}',
        '\u{903}',
        '\u{20dd}',
        '東',
        '京',
        'デ',
        'ー',
        'タ',
        '한',
        'д',
        'Д',
        'ё',
        'Ж',
        'ع',
        'ر',
        '\u{64b}',
        '\u{670}',
        'ש',
        '\u{5b8}',
        'क',
        '\u{93f}',
        '\u{94d}',
        'ก',
        '\u{e31}',
        '²',
        '½',
        'Ⅻ',
        'ⅻ',
        '٣',
        '０',
        '𝟘',
        '🙂',
        '🚀',
        '👍',
        '\u{1f3fd}',
        '\u{200d}',
        '\u{fe0f}',
        '€',
        '©',
        '™',
        '→',
        '∑',
        '√',
        '𝔄',
        '𝔞',
        'Ω',
        'ω',
        'ǅ',
        'ǈ',
        '\u{10ffff}',
        '\u{e000}',
    ];

    #[test]
    fn edge_cases_split_like_the_regex() {
        for text in [
            "",
            " ",
            "\n",
            "\r\n",
            "a",
            "  \n  x",
            "x  ",
            "x \t\n \n  y",
            " \u{3000}1",
            "don't DON'T Don'T we'LL you'rE they've I'd I'm it'ſ 's 'll '",
            "'sometimes 'S 'ſ",
            "ABC's ABCdef abcDEF aBC ǅungla",
            "\u{301}A \u{301}a a\u{301}A\u{301} \u{301}\u{301}",
            "!!!\n\n/// +\n/\n// ://x",
            "12345 ²³ Ⅻ 1,000,000.55",
            "東京 данные ציון مرحبا 🙂 🚀 naïve café Straße",
            "\t\tfoo\n\t\tbar",
            "<|endoftext|> <|fim_prefix|>",
            "\u{85}x \u{a0}\u{a0}x \u{2028}",
            "   ",
            "a\r\n\r\n   \r\n b",
        ] {
            assert_same_pieces(text);
        }
    }

    fn text_strategy() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let ch = prop_oneof![
            6 => proptest::sample::select(INTERESTING),
            1 => any::<char>(),
        ];
        proptest::collection::vec(ch, 0..60).prop_map(|v| v.into_iter().collect())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        #[test]
        fn splits_like_tiktoken_regex(text in text_strategy()) {
            assert_same_pieces(&text);
        }

        #[test]
        fn splits_arbitrary_text_like_tiktoken_regex(text in "\\PC{0,40}") {
            assert_same_pieces(&text);
        }
    }
}
