//! Turns OpenAI's `.tiktoken` rank files (base64 token, space, rank per line) into a compact
//! form the binary embeds: for each rank in order, one length byte and the token's bytes.
//! Loading that at run time is a walk over a byte string, with no base64 and no allocation.

use std::path::PathBuf;

use base64::Engine as _;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for name in ["o200k_base", "cl100k_base"] {
        let src = format!("assets/{name}.tiktoken");
        println!("cargo:rerun-if-changed={src}");
        let text = std::fs::read_to_string(&src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let mut packed = Vec::with_capacity(text.len());
        for (expected, line) in text.lines().enumerate() {
            let (token, rank) = line
                .split_once(' ')
                .unwrap_or_else(|| panic!("{src}:{}: no rank", expected + 1));
            let rank: usize = rank
                .parse()
                .unwrap_or_else(|e| panic!("{src}:{}: {e}", expected + 1));
            // The packed form has no rank column: ranks must run 0, 1, 2, ...
            assert_eq!(rank, expected, "{src}: ranks are not consecutive");
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(token)
                .unwrap_or_else(|e| panic!("{src}:{}: {e}", expected + 1));
            let len = u8::try_from(bytes.len()).expect("tokens are shorter than 256 bytes");
            assert!(len > 0, "{src}:{}: empty token", expected + 1);
            packed.push(len);
            packed.extend_from_slice(&bytes);
        }
        std::fs::write(out.join(format!("{name}.ranks")), packed).expect("write packed ranks");
    }
}
