//! The head's inverted index: label name → label value → sorted series ids.

use super::Symbols;
use crate::hash::IntMap;
use std::collections::HashSet;

#[derive(Default)]
pub(crate) struct Postings {
    by_name: IntMap<u32, IntMap<u32, Vec<u32>>>,
    /// Pairs that lost series since the last cleanup.
    dirty: HashSet<(u32, u32)>,
}

impl Postings {
    /// Adds `id` to the list of `name=value`. Ids are handed out in ascending order, so a
    /// push keeps the list sorted; replayed ids may arrive out of order and are inserted.
    pub(crate) fn add(&mut self, name: u32, value: u32, id: u32) {
        let list = self.by_name.entry(name).or_default().entry(value).or_default();
        match list.last() {
            Some(&last) if last > id => {
                let pos = list.partition_point(|&x| x < id);
                list.insert(pos, id);
            }
            _ => list.push(id),
        }
    }

    pub(crate) fn get(&self, name: u32, value: u32) -> Option<&[u32]> {
        self.by_name.get(&name)?.get(&value).map(|v| v.as_slice())
    }

    /// All values of `name` with their lists.
    pub(crate) fn values(&self, name: u32) -> Option<&IntMap<u32, Vec<u32>>> {
        self.by_name.get(&name)
    }

    /// All label names (symbol ids).
    pub(crate) fn names(&self) -> impl Iterator<Item = u32> + '_ {
        self.by_name.keys().copied()
    }

    pub(crate) fn mark_dirty(&mut self, name: u32, value: u32) {
        self.dirty.insert((name, value));
    }

    /// Removes `dead` (sorted) from every dirty list and drops lists that became empty.
    /// Runs before the symbols of the dead series are reused, so the dirty pairs still
    /// name the right lists.
    pub(crate) fn remove_ids(&mut self, dead: &[u32], _symbols: &mut Symbols) {
        for (name, value) in self.dirty.drain() {
            let Some(values) = self.by_name.get_mut(&name) else { continue };
            if let Some(list) = values.get_mut(&value) {
                list.retain(|id| dead.binary_search(id).is_err());
                if list.is_empty() {
                    values.remove(&value);
                } else if list.capacity() > list.len() * 2 {
                    list.shrink_to_fit();
                }
            }
            if values.is_empty() {
                self.by_name.remove(&name);
            }
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.by_name.values().map(|m| m.capacity() * 32 + m.values().map(|l| l.capacity() * 4).sum::<usize>()).sum()
    }
}

/// Intersection of two sorted lists.
pub(crate) fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// `a` minus `b`, both sorted.
pub(crate) fn subtract(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j < b.len() && b[j] == x {
            continue;
        }
        out.push(x);
    }
    out
}

/// Union of sorted lists, sorted and without duplicates.
pub(crate) fn union_sorted(lists: &[&[u32]]) -> Vec<u32> {
    match lists.len() {
        0 => Vec::new(),
        1 => lists[0].to_vec(),
        _ => {
            let mut out: Vec<u32> = Vec::with_capacity(lists.iter().map(|l| l.len()).sum());
            for l in lists {
                out.extend_from_slice(l);
            }
            out.sort_unstable();
            out.dedup();
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        assert_eq!(intersect(&[1, 3, 5, 7], &[3, 4, 5, 8]), vec![3, 5]);
        assert_eq!(subtract(&[1, 3, 5, 7], &[3, 4, 5, 8]), vec![1, 7]);
        assert_eq!(union_sorted(&[&[1, 5], &[2, 5, 9], &[]]), vec![1, 2, 5, 9]);
    }

    #[test]
    fn add_keeps_lists_sorted() {
        let mut p = Postings::default();
        for id in [5, 7, 3, 9, 1] {
            p.add(1, 2, id);
        }
        assert_eq!(p.get(1, 2).unwrap(), &[1, 3, 5, 7, 9]);
    }
}
