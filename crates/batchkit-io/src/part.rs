//! `--partition K/N`: which part of the id space a run of `dupes` or `join` looks at.
//!
//! An id belongs to part `⌊h · N / 2⁶⁴⌋` where `h` is the 64-bit XXH3 of the decoded id's
//! UTF-8 bytes with seed [`SEED`]. The seed keeps this hash apart from the spill store's
//! (unseeded XXH3, [`crate::spill`]), so the ids of one part still spread evenly over the
//! tables and spill partitions of the run that handles it. Lines without an id belong to
//! part 0, so that every line is counted by exactly one part.
//!
//! ```
//! use batchkit_io::part::Part;
//! let p: Part = "1/4".parse().unwrap();
//! let owners: Vec<u32> = ["a", "b", "c"].iter().map(|id| Part::of(id.as_bytes(), 4)).collect();
//! assert!(owners.iter().all(|&k| k < 4));
//! assert_eq!(p.holds(b"a"), owners[0] == 1);
//! assert!(!p.holds_no_id() && Part::WHOLE.holds_no_id());
//! ```

use std::fmt;
use std::str::FromStr;

/// The seed of the partition hash (the bytes of `"batchkit"`, little-endian).
pub const SEED: u64 = u64::from_le_bytes(*b"batchkit");

/// Part `k` of `n` (`0 <= k < n`); [`Part::WHOLE`] is every id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Part {
    k: u32,
    n: u32,
}

impl Default for Part {
    fn default() -> Self {
        Part::WHOLE
    }
}

impl Part {
    /// The whole id space (`0/1`).
    pub const WHOLE: Part = Part { k: 0, n: 1 };

    /// Part `k` of `n`, or why not.
    pub fn new(k: u32, n: u32) -> Result<Part, String> {
        if n == 0 {
            return Err("the number of parts must be at least 1".into());
        }
        if k >= n {
            return Err(format!(
                "part {k} does not exist: parts are numbered 0 to {}",
                n - 1
            ));
        }
        Ok(Part { k, n })
    }

    /// This part's number.
    pub fn k(&self) -> u32 {
        self.k
    }

    /// The number of parts.
    pub fn n(&self) -> u32 {
        self.n
    }

    /// Whether this is the whole id space.
    pub fn is_whole(&self) -> bool {
        self.n == 1
    }

    /// The part of `n` that decoded id `id` belongs to.
    pub fn of(id: &[u8], n: u32) -> u32 {
        let h = xxhash_rust::xxh3::xxh3_64_with_seed(id, SEED);
        // Multiply-high: an even split for any n, no modulo bias.
        ((u128::from(h) * u128::from(n)) >> 64) as u32
    }

    /// Whether decoded id `id` is in this part.
    pub fn holds(&self, id: &[u8]) -> bool {
        self.n == 1 || Part::of(id, self.n) == self.k
    }

    /// Whether lines without an id (and blank lines, and lines too long to read) are this
    /// part's: part 0's.
    pub fn holds_no_id(&self) -> bool {
        self.k == 0
    }
}

impl FromStr for Part {
    type Err = String;

    fn from_str(s: &str) -> Result<Part, String> {
        let bad = || format!("{s:?} is not K/N (such as 0/4: part 0 of 4)");
        let (k, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let k: u32 = k.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        Part::new(k, n)
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!("3/7".parse::<Part>(), Ok(Part { k: 3, n: 7 }));
        assert!("7/7".parse::<Part>().unwrap_err().contains("0 to 6"));
        assert!("0/0".parse::<Part>().is_err());
        assert!("1".parse::<Part>().is_err());
        assert!("a/2".parse::<Part>().is_err());
        assert_eq!(Part::new(2, 5).unwrap().to_string(), "2/5");
    }

    #[test]
    fn every_id_in_exactly_one_part_and_parts_even() {
        for n in [1u32, 2, 4, 7] {
            let mut counts = vec![0u32; n as usize];
            for i in 0..7000 {
                let id = format!("request-{i}");
                let owners: Vec<u32> = (0..n)
                    .filter(|&k| Part::new(k, n).unwrap().holds(id.as_bytes()))
                    .collect();
                assert_eq!(owners.len(), 1, "{id} in {owners:?} of {n}");
                counts[owners[0] as usize] += 1;
            }
            let even = 7000 / n;
            assert!(counts.iter().all(|&c| c > even * 8 / 10), "{counts:?}");
        }
    }

    #[test]
    fn apart_from_the_spill_hash() {
        // Ids of one part must not all share the spill store's low bits.
        let ids: Vec<String> = (0..4000)
            .map(|i| format!("id{i}"))
            .filter(|id| Part::of(id.as_bytes(), 4) == 1)
            .collect();
        let mut buckets = [0u32; 4];
        for id in &ids {
            buckets[(crate::spill::id_hash(id.as_bytes()) >> 62) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|&b| b > ids.len() as u32 / 8),
            "{buckets:?}"
        );
    }
}
