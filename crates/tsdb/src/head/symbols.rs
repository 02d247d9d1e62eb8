//! Interned label strings with reference counts, so churned-away strings are freed.

use std::collections::HashMap;
use std::sync::Arc;

#[derive(Default)]
pub(crate) struct Symbols {
    ids: HashMap<Arc<str>, u32>,
    strs: Vec<Arc<str>>,
    refs: Vec<u32>,
    free: Vec<u32>,
}

impl Symbols {
    /// Returns the id of `s`, adding it if new, and takes a reference.
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            self.refs[id as usize] += 1;
            return id;
        }
        let a: Arc<str> = Arc::from(s);
        let id = match self.free.pop() {
            Some(id) => {
                self.strs[id as usize] = a.clone();
                self.refs[id as usize] = 1;
                id
            }
            None => {
                self.strs.push(a.clone());
                self.refs.push(1);
                (self.strs.len() - 1) as u32
            }
        };
        self.ids.insert(a, id);
        id
    }

    /// Drops one reference; the string is freed with its last reference.
    pub(crate) fn release(&mut self, id: u32) {
        let r = &mut self.refs[id as usize];
        *r -= 1;
        if *r == 0 {
            let s = std::mem::replace(&mut self.strs[id as usize], Arc::from(""));
            self.ids.remove(&s);
            self.free.push(id);
        }
    }

    /// The id of `s`, if interned.
    pub(crate) fn lookup(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    /// The string of `id`.
    pub(crate) fn get(&self, id: u32) -> &str {
        &self.strs[id as usize]
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        let strings: usize = self.strs.iter().map(|s| s.len() + 16).sum();
        strings + self.ids.capacity() * 24 + self.strs.capacity() * 16 + self.refs.capacity() * 4
    }
}
