/// A size argument that could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid size {input:?}: {reason} (examples: 200MB = 200,000,000 bytes, 200MiB = 209,715,200 bytes, 1.5GB, 4096)")]
pub struct SizeError {
    input: String,
    reason: &'static str,
}

/// Parses `200MB` (decimal: 200,000,000), `200MiB` (binary: 209,715,200), `1.5GB`, `64k`,
/// or bare bytes. Units are case-insensitive; `B` may be left out.
pub fn parse_size(s: &str) -> Result<u64, SizeError> {
    let err = |reason| SizeError {
        input: s.to_string(),
        reason,
    };
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: String = num.chars().filter(|&c| c != '_').collect();
    if num.is_empty() {
        return Err(err("no number"));
    }
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        "ti" | "tib" => 1 << 40,
        _ => return Err(err("unknown unit")),
    };
    if let Some((int, frac)) = num.split_once('.') {
        if frac.contains('.') || (int.is_empty() && frac.is_empty()) {
            return Err(err("not a number"));
        }
        let int: u64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| err("not a number"))?
        };
        let frac_digits = frac.len().min(18) as u32;
        let frac_val: u64 = if frac.is_empty() {
            0
        } else {
            frac[..frac_digits as usize]
                .parse()
                .map_err(|_| err("not a number"))?
        };
        let scale = 10u64.pow(frac_digits);
        let whole = int.checked_mul(mult).ok_or_else(|| err("too large"))?;
        let part = (frac_val as u128 * mult as u128 / scale as u128) as u64;
        if mult == 1 && frac_val != 0 {
            return Err(err("fractional bytes"));
        }
        whole.checked_add(part).ok_or_else(|| err("too large"))
    } else {
        let n: u64 = num.parse().map_err(|_| err("not a number"))?;
        n.checked_mul(mult).ok_or_else(|| err("too large"))
    }
}

/// Formats bytes for people: `209715200 bytes (200.0 MiB)`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_and_binary_units() {
        assert_eq!(parse_size("200MB"), Ok(200_000_000));
        assert_eq!(parse_size("200MiB"), Ok(209_715_200));
        assert_eq!(parse_size("1.5GB"), Ok(1_500_000_000));
        assert_eq!(parse_size("1.5GiB"), Ok(1_610_612_736));
        assert_eq!(parse_size("64k"), Ok(64_000));
        assert_eq!(parse_size("209715200"), Ok(209_715_200));
        assert_eq!(parse_size("100 mb"), Ok(100_000_000));
        assert_eq!(parse_size("1_000"), Ok(1000));
        assert!(parse_size("").is_err());
        assert!(parse_size("MB").is_err());
        assert!(parse_size("12XB").is_err());
        assert!(parse_size("1.5").is_err());
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size("20000000000TB").is_err());
    }

    #[test]
    fn formats_binary() {
        assert_eq!(format_size(209_715_200), "200.0 MiB");
        assert_eq!(format_size(12), "12 B");
    }
}
