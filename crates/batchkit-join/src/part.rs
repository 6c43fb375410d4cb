//! `--partition K/N`: which request and result lines a run joins. A line belongs to the part
//! of its decoded id ([`batchkit_io::part::Part`]; a result's id after `--id-map`); a line
//! without one (blank, not JSON, no id, too long to read) belongs to part 0. Lines of other
//! parts are left out before anything is counted, stored or reported, so the runs of all
//! parts together write, count and report what one run does.

use batchkit_io::part::Part;

use crate::parse::{request_id, RequestId};

/// Whether a line with decoded id `id` (`None`: no usable id) is `part`'s.
pub(crate) fn holds(part: Part, id: Option<&[u8]>) -> bool {
    match id {
        _ if part.is_whole() => true,
        Some(id) => part.holds(id),
        None => part.holds_no_id(),
    }
}

/// Whether request line `content` (not blank) is `part`'s (an extra read of its id, only
/// when the run has parts).
pub(crate) fn holds_request(part: Part, content: &[u8]) -> bool {
    if part.is_whole() {
        return true;
    }
    match request_id(content) {
        RequestId::Id { id, .. } => part.holds(id.as_bytes()),
        _ => part.holds_no_id(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_by_decoded_id_and_lines_without_one_in_part_0() {
        let n = 7;
        let k = Part::of(b"A1", n);
        let part = Part::new(k, n).unwrap();
        assert!(holds_request(part, br#"{"custom_id":"A1","body":{}}"#));
        assert!(holds_request(part, br#"{"custom_id":"\u00411","body":{}}"#));
        let other = Part::new((k + 1) % n, n).unwrap();
        assert!(!holds_request(
            other,
            br#"{"custom_id":"\u00411","body":{}}"#
        ));
        for no_id in [&b"{"[..], b"[1]", br#"{"body":{}}"#, br#"{"custom_id":3}"#] {
            for k in 0..n {
                let p = Part::new(k, n).unwrap();
                assert_eq!(holds_request(p, no_id), k == 0);
                assert_eq!(holds(p, None), k == 0);
            }
        }
        assert!(holds(Part::WHOLE, Some(b"x")) && holds_request(Part::WHOLE, b"{"));
    }
}
