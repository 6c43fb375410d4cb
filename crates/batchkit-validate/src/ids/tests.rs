use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

type Groups = Vec<(Vec<u8>, Vec<(u32, u64)>)>;
/// (position, first occurrence) of a repeat.
type Repeat = ((u32, u64), (u32, u64));

// Temporary files are slow to create on some machines: the knobs keep their number small
// while still reaching split partitions and multi-round merges.

/// Small partitions are still split; sorts spill small runs, merged three at a time.
const TINY: Knobs = Knobs {
    min_split: 4 << 10,
    fan_in: 3,
    min_sort: 2 << 10,
};
/// Every partition over budget is split; merges take two runs at a time.
const DEEP: Knobs = Knobs {
    min_split: 0,
    fan_in: 2,
    min_sort: 2 << 10,
};
/// As in use, but for a smaller floor of the sort budget.
const PLAIN: Knobs = Knobs {
    min_split: MIN_SPLIT,
    fan_in: 8,
    min_sort: 16 << 10,
};

fn occ(file: u32, line: u64) -> Occurrence {
    Occurrence {
        file,
        line,
        offset: line * 10,
    }
}

fn naive(ids: &[(u32, Vec<u8>)]) -> Groups {
    let mut m: BTreeMap<Vec<u8>, Vec<(u32, u64)>> = BTreeMap::new();
    for (line, (file, id)) in ids.iter().enumerate() {
        m.entry(id.clone())
            .or_default()
            .push((*file, line as u64 + 1));
    }
    let mut v: Vec<_> = m.into_iter().filter(|(_, o)| o.len() > 1).collect();
    v.sort_by_key(|(_, o)| o[0]);
    v
}

fn naive_repeats(ids: &[(u32, Vec<u8>)]) -> Vec<Repeat> {
    let mut first: BTreeMap<&[u8], (u32, u64)> = BTreeMap::new();
    let mut out = Vec::new();
    for (line, (file, id)) in ids.iter().enumerate() {
        let at = (*file, line as u64 + 1);
        match first.get(id.as_slice()) {
            Some(f) => out.push((at, *f)),
            None => {
                first.insert(id, at);
            }
        }
    }
    out
}

fn index(limit: u64, parent: Option<&Path>, track: Track, knobs: Knobs) -> IdIndex {
    let mut idx = IdIndex::new(limit, parent.map(Path::to_path_buf), track);
    idx.knobs = knobs;
    idx
}

/// [`Track::All`]: the groups, every other one left unread when `skip` (its list empty),
/// checking the counts, a second read of each group and the repeated occurrences.
fn run_all(ids: &[(u32, Vec<u8>)], limit: u64, knobs: Knobs, skip: bool) -> (Groups, bool) {
    let mut idx = index(limit, None, Track::All, knobs);
    for (line, (file, id)) in ids.iter().enumerate() {
        idx.insert(id, occ(*file, line as u64 + 1)).unwrap();
    }
    let spilled = idx.spilled();
    let mut d = idx.finish(true).unwrap();
    assert_eq!(d.spilled(), spilled);
    let mut repeated = Vec::new();
    while let Some(p) = d.next_repeated().unwrap() {
        repeated.push(p);
    }
    let (ids_n, repeated_n) = (d.ids(), d.repeated());
    let mut groups = Vec::new();
    let mut k = 0;
    while let Some(mut g) = d.next_group().unwrap() {
        let mut occs = Vec::new();
        if !(skip && k % 2 == 1) {
            g.for_each(|f, l| {
                occs.push((f, l));
                Ok(())
            })
            .unwrap();
            let mut again = Vec::new();
            g.for_each(|f, l| {
                again.push((f, l));
                Ok(())
            })
            .unwrap();
            assert_eq!(occs, again, "a second read gives the same");
            assert_eq!(g.count(), occs.len() as u64);
            assert_eq!(g.first(), occs[0]);
        }
        groups.push((g.id().to_vec(), occs));
        k += 1;
    }
    assert_eq!(ids_n, groups.len() as u64);
    let want: Vec<(u32, u64)> = naive_repeats(ids).into_iter().map(|r| r.0).collect();
    assert_eq!(repeated_n, want.len() as u64);
    assert_eq!(repeated, want, "repeated occurrences in input order");
    (groups, spilled)
}

/// [`Track::First`]: every repeat with its first occurrence (inline, then late), checking
/// that late ones come in order and none is reported twice. Also returns how many were late.
fn run_first(ids: &[(u32, Vec<u8>)], limit: u64, knobs: Knobs) -> (Vec<Repeat>, bool, usize) {
    let mut idx = index(limit, None, Track::First, knobs);
    let mut got = Vec::new();
    for (line, (file, id)) in ids.iter().enumerate() {
        let at = occ(*file, line as u64 + 1);
        if let Insert::Duplicate(f) = idx.insert(id, at).unwrap() {
            got.push(((at.file, at.line), (f.file, f.line)));
        }
    }
    let spilled = idx.spilled();
    let mut late = Vec::new();
    idx.finish_late(|d| {
        assert_eq!(d.id, ids[d.at.line as usize - 1].1.as_slice());
        assert_eq!(d.at.offset, d.at.line * 10);
        late.push(((d.at.file, d.at.line), (d.first.file, d.first.line)));
        true
    })
    .unwrap();
    assert!(late.windows(2).all(|w| w[0].0 < w[1].0), "late in order");
    let n = late.len();
    got.extend(late);
    got.sort();
    assert!(got.windows(2).all(|w| w[0].0 < w[1].0), "reported once");
    (got, spilled, n)
}

fn blank_odd(mut g: Groups) -> Groups {
    for (k, (_, o)) in g.iter_mut().enumerate() {
        if k % 2 == 1 {
            o.clear();
        }
    }
    g
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn agrees_with_a_naive_set(ids in proptest::collection::vec((0u32..3, proptest::collection::vec(b'a'..b'e', 0..4)), 0..300),
                               limit in prop_oneof![Just(64u64), Just(2048u64), Just(1u64 << 30)],
                               deep in any::<bool>(), skip in any::<bool>()) {
        // Files are read one after the other, so file indexes never decrease.
        let mut ids = ids;
        ids.sort_by_key(|(f, _)| *f);
        let knobs = if deep { DEEP } else { TINY };
        let (got, _) = run_all(&ids, limit, knobs, skip);
        let want = naive(&ids);
        prop_assert_eq!(got, if skip { blank_odd(want) } else { want });
        let (got, _, _) = run_first(&ids, limit, knobs);
        prop_assert_eq!(got, naive_repeats(&ids));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn one_id_repeated_streams_within_a_tiny_limit(n in 1usize..3000, others in 0usize..400,
                                                   limit in prop_oneof![Just(64u64), Just(4096u64)]) {
        // Distinct ids first (they make the set spill), then one id over and over, with a
        // few of the others repeated in between.
        let mut ids: Vec<(u32, Vec<u8>)> =
            (0..others).map(|i| (0, format!("o{i}").into_bytes())).collect();
        for i in 0..n {
            ids.push((1, b"same".to_vec()));
            if i % 97 == 0 && others > 0 {
                ids.push((1, format!("o{}", i % others).into_bytes()));
            }
        }
        let (got, _) = run_all(&ids, limit, PLAIN, false);
        prop_assert_eq!(got, naive(&ids));
        let (got, _, _) = run_first(&ids, limit, PLAIN);
        prop_assert_eq!(got, naive_repeats(&ids));
    }
}

#[test]
fn spill_path_finds_every_duplicate() {
    let mut ids: Vec<(u32, Vec<u8>)> = (0..20_000u32)
        .map(|i| (0, format!("id-{i}").into_bytes()))
        .collect();
    for i in (0..20_000).step_by(997) {
        ids.push((1, format!("id-{i}").into_bytes()));
    }
    let (got, spilled) = run_all(&ids, 16 << 10, PLAIN, false);
    assert!(spilled);
    assert_eq!(got, naive(&ids));
    assert_eq!(got.len(), 21);
    let (got, spilled, late) = run_first(&ids, 16 << 10, PLAIN);
    assert!(spilled);
    assert_eq!(late, 21);
    assert_eq!(got, naive_repeats(&ids));
}

#[test]
fn deep_partitions_recurse() {
    // A budget so small that each first-level partition must be split again.
    let ids: Vec<(u32, Vec<u8>)> = (0..6_000u32)
        .map(|i| (0, format!("x{}", i % 5_000).into_bytes()))
        .collect();
    let (got, spilled) = run_all(&ids, 2 << 10, TINY, false);
    assert!(spilled);
    assert_eq!(got, naive(&ids));
    assert_eq!(got.len(), 1_000);
    let (got, spilled, late) = run_first(&ids, 2 << 10, TINY);
    assert!(spilled);
    assert_eq!(late, 1_000);
    assert_eq!(got, naive_repeats(&ids));
}

#[test]
fn first_keeps_no_occurrence_lists() {
    // One id on every line never spills the first-occurrence set, whatever the count.
    let mut idx = index(4 << 10, None, Track::First, TINY);
    for line in 1..=100_000 {
        let r = idx.insert(b"same", occ(0, line)).unwrap();
        assert_eq!(r == Insert::New, line == 1);
    }
    assert!(!idx.spilled());
    assert!(idx.mem_bytes() <= 4 << 10);
}

#[test]
fn a_big_group_streams_from_disk_in_order() {
    let mut ids: Vec<(u32, Vec<u8>)> = (0..500u32)
        .map(|i| (0, format!("d{i}").into_bytes()))
        .collect();
    ids.extend((0..20_000).map(|_| (0, b"same".to_vec())));
    ids.push((0, b"d3".to_vec()));
    let (got, spilled) = run_all(&ids, 4 << 10, PLAIN, false);
    assert!(spilled);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, b"d3");
    assert_eq!(got[1].1.len(), 20_000);
    assert_eq!(got, naive(&ids));
    let (got, spilled, late) = run_first(&ids, 4 << 10, PLAIN);
    assert!(spilled);
    assert_eq!(late, 20_000);
    assert_eq!(got, naive_repeats(&ids));
}

#[test]
fn spill_dirs_are_named_and_removed() {
    let parent = tempfile::tempdir().unwrap();
    let names = || -> Vec<String> {
        std::fs::read_dir(parent.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    for track in [Track::First, Track::All] {
        let mut idx = index(1 << 10, Some(parent.path()), track, TINY);
        for i in 0..5_000u64 {
            idx.insert(format!("k{}", i % 3_000).as_bytes(), occ(0, i + 1))
                .unwrap();
        }
        assert!(idx.spilled());
        let n = names();
        assert_eq!(n.len(), 1);
        assert!(n[0].starts_with(".batchkit-ids-"), "{n:?}");
        if track == Track::All {
            let mut d = idx.finish(false).unwrap();
            assert_eq!((d.ids(), d.repeated()), (2_000, 2_000));
            assert!(d.next_repeated().is_err());
            // Stop early: the rest is dropped with the directory.
            assert!(d.next_group().unwrap().is_some());
        } else {
            let mut seen = 0;
            idx.finish_late(|_| {
                seen += 1;
                seen < 10
            })
            .unwrap();
            assert_eq!(seen, 10);
        }
        assert!(names().is_empty(), "{:?}", names());
    }
}
