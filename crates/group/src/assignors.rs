//! The server-side assignors of KIP-848 consumer groups (`uniform`, `range`) and the
//! partition-set arithmetic reconciliation uses.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use uuid::Uuid;

/// Partitions by topic name.
pub(crate) type Partitions = BTreeMap<String, BTreeSet<i32>>;

pub(crate) fn count(p: &Partitions) -> usize {
    p.values().map(BTreeSet::len).sum()
}

pub(crate) fn contains(p: &Partitions, topic: &str, partition: i32) -> bool {
    p.get(topic).is_some_and(|s| s.contains(&partition))
}

pub(crate) fn minus(a: &Partitions, b: &Partitions) -> Partitions {
    let mut out = Partitions::new();
    for (t, ps) in a {
        for p in ps {
            if !contains(b, t, *p) {
                out.entry(t.clone()).or_default().insert(*p);
            }
        }
    }
    out
}

pub(crate) fn intersect(a: &Partitions, b: &Partitions) -> Partitions {
    let mut out = Partitions::new();
    for (t, ps) in a {
        for p in ps {
            if contains(b, t, *p) {
                out.entry(t.clone()).or_default().insert(*p);
            }
        }
    }
    out
}

pub(crate) fn union_into(a: &mut Partitions, b: &Partitions) {
    for (t, ps) in b {
        a.entry(t.clone()).or_default().extend(ps.iter().copied());
    }
}
/// Range: per topic, the members subscribed to it (by member id) get contiguous ranges.
pub(crate) fn assign_range(
    members: &[(String, Vec<String>)],
    metadata: &BTreeMap<String, (Uuid, i32)>,
) -> HashMap<String, Partitions> {
    let mut out: HashMap<String, Partitions> = members
        .iter()
        .map(|(id, _)| (id.clone(), Partitions::new()))
        .collect();
    for (topic, (_, n)) in metadata {
        let mut subs: Vec<&String> = members
            .iter()
            .filter(|(_, s)| s.contains(topic))
            .map(|(id, _)| id)
            .collect();
        subs.sort();
        if subs.is_empty() {
            continue;
        }
        let k = subs.len() as i32;
        let (per, extra) = (n / k, n % k);
        let mut next = 0;
        for (i, id) in subs.iter().enumerate() {
            let take = per + i32::from((i as i32) < extra);
            let set: BTreeSet<i32> = (next..next + take).collect();
            next += take;
            if !set.is_empty() {
                if let Some(p) = out.get_mut(*id) {
                    p.insert(topic.clone(), set);
                }
            }
        }
    }
    out
}

/// Uniform: partitions spread evenly over the members subscribed to their topics, each
/// member keeping what it had as far as balance allows (sticky).
pub(crate) fn assign_uniform(
    members: &[(String, Vec<String>)],
    metadata: &BTreeMap<String, (Uuid, i32)>,
    previous: &HashMap<String, Partitions>,
) -> HashMap<String, Partitions> {
    let mut out: HashMap<String, Partitions> = members
        .iter()
        .map(|(id, _)| (id.clone(), Partitions::new()))
        .collect();
    if members.is_empty() {
        return out;
    }
    let all: Vec<(String, i32)> = metadata
        .iter()
        .filter(|(t, _)| members.iter().any(|(_, s)| s.contains(t)))
        .flat_map(|(t, (_, n))| (0..*n).map(move |p| (t.clone(), p)))
        .collect();
    // Balance: every member gets `min_quota`, `extra` of them one more.
    let min_quota = all.len() / members.len();
    let mut extra = all.len() % members.len();
    let mut taken: BTreeSet<(String, i32)> = BTreeSet::new();
    let mut ids: Vec<&String> = members.iter().map(|(id, _)| id).collect();
    ids.sort();
    // Keep previous partitions that are still valid: up to the minimum first, then one more
    // for as many members as the remainder allows.
    let still_valid = |id: &String| -> Vec<(String, i32)> {
        let subs = members
            .iter()
            .find(|(m, _)| m == id)
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        previous
            .get(id)
            .into_iter()
            .flatten()
            .filter(|(t, _)| subs.contains(t))
            .flat_map(|(t, ps)| {
                let n = metadata.get(t).map(|(_, n)| *n).unwrap_or(0);
                ps.iter()
                    .filter(move |p| **p < n)
                    .map(move |p| (t.clone(), *p))
            })
            .collect()
    };
    let mut leftovers: Vec<(&String, (String, i32))> = Vec::new();
    for id in &ids {
        let mut kept = 0;
        for tp in still_valid(id) {
            if taken.contains(&tp) {
                continue;
            }
            if kept < min_quota {
                taken.insert(tp.clone());
                let (t, p) = tp;
                out.entry((*id).clone())
                    .or_default()
                    .entry(t)
                    .or_default()
                    .insert(p);
                kept += 1;
            } else if leftovers.iter().all(|(other, _)| other != id) {
                leftovers.push((id, tp));
            }
        }
    }
    for (id, tp) in leftovers {
        if extra == 0 {
            break;
        }
        if taken.insert(tp.clone()) {
            let (t, p) = tp;
            out.entry(id.clone())
                .or_default()
                .entry(t)
                .or_default()
                .insert(p);
            extra -= 1;
        }
    }
    // The rest go to the least loaded subscribed member.
    for (t, p) in all {
        if taken.contains(&(t.clone(), p)) {
            continue;
        }
        let best = ids
            .iter()
            .filter(|id| members.iter().any(|(m, s)| m == **id && s.contains(&t)))
            .min_by_key(|id| out.get(**id).map(count).unwrap_or(0));
        if let Some(id) = best {
            out.entry((*id).clone())
                .or_default()
                .entry(t.clone())
                .or_default()
                .insert(p);
        }
    }
    out
}
#[cfg(test)]
mod tests {
    use super::*;

    fn meta(topics: &[(&str, i32)]) -> BTreeMap<String, (Uuid, i32)> {
        topics
            .iter()
            .map(|(t, n)| (t.to_string(), (Uuid::new_v4(), *n)))
            .collect()
    }

    fn members(ids: &[&str], topics: &[&str]) -> Vec<(String, Vec<String>)> {
        ids.iter()
            .map(|id| {
                (
                    id.to_string(),
                    topics.iter().map(|t| t.to_string()).collect(),
                )
            })
            .collect()
    }

    fn all_once(out: &HashMap<String, Partitions>, topic: &str, n: i32) {
        let mut seen = BTreeSet::new();
        for p in out.values() {
            for q in p.get(topic).into_iter().flatten() {
                assert!(seen.insert(*q), "partition {q} twice");
            }
        }
        assert_eq!(seen, (0..n).collect());
    }

    #[test]
    fn range_gives_contiguous_ranges() {
        let out = assign_range(&members(&["a", "b", "c"], &["t"]), &meta(&[("t", 7)]));
        all_once(&out, "t", 7);
        assert_eq!(out["a"]["t"], (0..3).collect());
        assert_eq!(out["b"]["t"], (3..5).collect());
        assert_eq!(out["c"]["t"], (5..7).collect());
    }

    #[test]
    fn uniform_is_balanced_and_sticky() {
        let m = meta(&[("t", 6), ("u", 3)]);
        let first = assign_uniform(&members(&["a", "b"], &["t", "u"]), &m, &HashMap::new());
        all_once(&first, "t", 6);
        all_once(&first, "u", 3);
        let counts: Vec<usize> = first.values().map(count).collect();
        assert!(counts.iter().all(|c| *c == 4 || *c == 5), "{counts:?}");
        // A third member takes some; the first two keep the rest of what they had.
        let second = assign_uniform(&members(&["a", "b", "c"], &["t", "u"]), &m, &first);
        all_once(&second, "t", 6);
        for id in ["a", "b"] {
            assert!(
                minus(&second[id], &first[id]).is_empty(),
                "{id} got new partitions"
            );
        }
        assert_eq!(count(&second["c"]), 3);
    }

    #[test]
    fn uniform_gives_a_late_member_its_share() {
        let m = meta(&[("t", 30)]);
        let ten: Vec<String> = (0..10).map(|i| format!("m{i:02}")).collect();
        let refs: Vec<&str> = ten.iter().map(String::as_str).collect();
        let first = assign_uniform(&members(&refs, &["t"]), &m, &HashMap::new());
        assert!(first.values().all(|p| count(p) == 3));
        let mut eleven = refs.clone();
        eleven.push("m10");
        let second = assign_uniform(&members(&eleven, &["t"]), &m, &first);
        all_once(&second, "t", 30);
        let counts: Vec<usize> = second.values().map(count).collect();
        let (lo, hi) = (counts.iter().min().copied(), counts.iter().max().copied());
        assert_eq!((lo, hi), (Some(2), Some(3)), "{counts:?}");
        for id in &refs {
            assert!(minus(&second[*id], &first[*id]).is_empty(), "{id} moved");
        }
    }
}
