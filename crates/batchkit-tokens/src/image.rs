//! Image input tokens: OpenAI's published rules, and the size of inline images.

use base64::Engine;

/// Tokens for one OpenAI image part and whether the figure is exact.
///
/// `detail` is the part's `detail` (`low`, `high`, `auto`; absent means `auto`, which the
/// rule treats as `high`), `size` the pixel size when the image is inline.
pub fn openai_image_tokens(
    model: &str,
    detail: Option<&str>,
    size: Option<(u32, u32)>,
) -> (u64, bool) {
    let rule = rule_for(model);
    let (base, tile, known) = match rule {
        Rule::Tiles { base, tile } => (base, tile, true),
        // Patch-priced models: no tile figures; price as gpt-4o and say it is an estimate.
        Rule::Unknown => (85, 170, false),
    };
    if detail == Some("low") {
        return (base, known);
    }
    match size {
        Some((w, h)) => (base + tile * tiles(w, h), known),
        // A remote image of unknown size: the most a high-detail image can cost.
        None => (base + tile * 8, false),
    }
}

enum Rule {
    Tiles { base: u64, tile: u64 },
    Unknown,
}

fn rule_for(model: &str) -> Rule {
    let m = crate::encoding::normalize_model(model);
    let starts = |p: &str| m.starts_with(p);
    if starts("gpt-4o-mini") {
        Rule::Tiles {
            base: 2833,
            tile: 5667,
        }
    } else if starts("gpt-4.1-mini")
        || starts("gpt-4.1-nano")
        || starts("o4-mini")
        || starts("gpt-5-mini")
        || starts("gpt-5-nano")
    {
        Rule::Unknown
    } else if starts("gpt-4o") || starts("chatgpt-4o") || starts("gpt-4.1") || starts("gpt-4.5") {
        Rule::Tiles {
            base: 85,
            tile: 170,
        }
    } else if starts("o1") || starts("o3") {
        Rule::Tiles {
            base: 75,
            tile: 150,
        }
    } else if starts("gpt-5") {
        Rule::Tiles {
            base: 70,
            tile: 140,
        }
    } else {
        Rule::Unknown
    }
}

/// 512-pixel tiles of an image after OpenAI's resizing: fit in 2048×2048, then shrink so
/// the shortest side is at most 768.
pub fn tiles(w: u32, h: u32) -> u64 {
    if w == 0 || h == 0 {
        return 0;
    }
    let (mut w, mut h) = (f64::from(w), f64::from(h));
    if w > 2048.0 || h > 2048.0 {
        let s = 2048.0 / w.max(h);
        w *= s;
        h *= s;
    }
    if w.min(h) > 768.0 {
        let s = 768.0 / w.min(h);
        w *= s;
        h *= s;
    }
    let w = w.round().max(1.0);
    let h = h.round().max(1.0);
    ((w / 512.0).ceil() * (h / 512.0).ceil()) as u64
}

/// Pixel size of a `data:image/...;base64,...` URL, from the image header alone.
pub fn data_url_size(url: &str) -> Option<(u32, u32)> {
    let rest = url.strip_prefix("data:")?;
    let (_, b64) = rest.split_once(";base64,")?;
    // Headers sit near the start; JPEG frames may follow a thumbnail in EXIF, so look
    // further than a PNG needs, but never decode a whole large image.
    let take = b64.len().min(256 << 10) / 4 * 4;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&b64.as_bytes()[..take])
        .ok()?;
    image_size(&bytes)
}

/// Pixel size of a PNG, GIF, JPEG or WebP image from its first bytes.
pub fn image_size(b: &[u8]) -> Option<(u32, u32)> {
    let be32 = |i: usize| {
        b.get(i..i + 4)
            .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    };
    let le16 = |i: usize| {
        b.get(i..i + 2)
            .map(|s| u32::from(u16::from_le_bytes([s[0], s[1]])))
    };
    let be16 = |i: usize| {
        b.get(i..i + 2)
            .map(|s| u32::from(u16::from_be_bytes([s[0], s[1]])))
    };
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some((be32(16)?, be32(20)?));
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return Some((le16(6)?, le16(8)?));
    }
    if b.starts_with(b"RIFF") && b.get(8..12) == Some(b"WEBP") {
        return match b.get(12..16)? {
            b"VP8 " => Some((le16(26)? & 0x3fff, le16(28)? & 0x3fff)),
            b"VP8L" => {
                let s = b.get(21..25)?;
                let v = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
                Some(((v & 0x3fff) + 1, ((v >> 14) & 0x3fff) + 1))
            }
            b"VP8X" => {
                let le24 = |i: usize| {
                    b.get(i..i + 3)
                        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], 0]))
                };
                Some((le24(24)? + 1, le24(27)? + 1))
            }
            _ => None,
        };
    }
    if b.starts_with(&[0xFF, 0xD8]) {
        let mut i = 2;
        while i + 4 <= b.len() {
            if b[i] != 0xFF {
                i += 1;
                continue;
            }
            let marker = b[i + 1];
            if marker == 0xFF {
                i += 1;
                continue;
            }
            if matches!(marker, 0xD0..=0xD9 | 0x01) {
                i += 2;
                continue;
            }
            let len = be16(i + 2)? as usize;
            if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
                return Some((be16(i + 7)?, be16(i + 5)?));
            }
            i += 2 + len;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_rule_matches_openai_examples() {
        // The vision guide's worked examples (gpt-4o).
        assert_eq!(
            openai_image_tokens("gpt-4o", Some("high"), Some((1024, 1024))),
            (765, true)
        );
        assert_eq!(
            openai_image_tokens("gpt-4o", Some("high"), Some((2048, 4096))),
            (1105, true)
        );
        assert_eq!(
            openai_image_tokens("gpt-4o", Some("low"), Some((4096, 8192))),
            (85, true)
        );
        assert_eq!(
            openai_image_tokens("gpt-4o-mini", Some("low"), None),
            (2833, true)
        );
        assert!(!openai_image_tokens("gpt-4o", None, None).1);
        assert!(!openai_image_tokens("gpt-4.1-mini", Some("low"), None).1);
    }

    #[test]
    fn reads_image_headers() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&640u32.to_be_bytes());
        png.extend_from_slice(&480u32.to_be_bytes());
        assert_eq!(image_size(&png), Some((640, 480)));
        let url = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&png)
        );
        assert_eq!(data_url_size(&url), Some((640, 480)));
        let gif = b"GIF89a\x20\x03\x58\x02";
        assert_eq!(image_size(gif), Some((800, 600)));
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8, 0x01, 0xE0, 0x02, 0x80, 3,
        ];
        assert_eq!(image_size(&jpeg), Some((640, 480)));
        assert_eq!(image_size(b"not an image"), None);
        assert_eq!(data_url_size("https://example.com/a.png"), None);
    }
}
