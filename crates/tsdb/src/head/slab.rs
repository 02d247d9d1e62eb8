//! Series storage: fixed-size pages of [`MemSeries`] indexed by series id, so an id is an
//! array position (no hash lookup, no pointer chase per sample) and pages can be handed to
//! different threads during WAL replay. Freed ids are reused.

use super::MemSeries;

/// Series per page (a power of two).
pub(crate) const PAGE_BITS: u32 = 12;
pub(crate) const PAGE_SIZE: usize = 1 << PAGE_BITS;

#[derive(Default)]
pub(crate) struct SeriesSlab {
    pub(crate) pages: Vec<Box<[MemSeries]>>,
    free: Vec<u32>,
    live: usize,
}

fn new_page() -> Box<[MemSeries]> {
    (0..PAGE_SIZE).map(|_| MemSeries::vacant()).collect::<Vec<_>>().into_boxed_slice()
}

impl SeriesSlab {
    /// Live series.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Ids that can ever be in use without growing.
    pub(crate) fn capacity(&self) -> usize {
        self.pages.len() * PAGE_SIZE
    }

    /// A free id (reusing freed ones first). Ids are never 0, which stays reserved.
    pub(crate) fn alloc(&mut self) -> u32 {
        while let Some(id) = self.free.pop() {
            if self.get(id).is_none() {
                return id;
            }
        }
        let id = self.capacity().max(1) as u32;
        self.pages.push(new_page());
        // Everything in the new page but `id` is free; push in reverse so low ids come first.
        let start = id as usize;
        let end = self.capacity();
        for x in (start + 1..end).rev() {
            self.free.push(x as u32);
        }
        id
    }

    fn ensure(&mut self, id: u32) {
        while (id as usize) >= self.capacity() {
            self.pages.push(new_page());
        }
    }

    /// Stores `s` under `id`, which must be free.
    pub(crate) fn put(&mut self, id: u32, s: MemSeries) {
        self.ensure(id);
        let slot = &mut self.pages[(id >> PAGE_BITS) as usize][id as usize & (PAGE_SIZE - 1)];
        debug_assert!(!slot.live, "BUG: series id {id} already in use");
        *slot = s;
        slot.live = true;
        self.live += 1;
    }

    /// The series `id`, if live.
    #[inline]
    pub(crate) fn get(&self, id: u32) -> Option<&MemSeries> {
        let s = self.pages.get((id >> PAGE_BITS) as usize)?.get(id as usize & (PAGE_SIZE - 1))?;
        s.live.then_some(s)
    }

    /// The series `id`, if live.
    #[inline]
    pub(crate) fn get_mut(&mut self, id: u32) -> Option<&mut MemSeries> {
        let s = self.pages.get_mut((id >> PAGE_BITS) as usize)?.get_mut(id as usize & (PAGE_SIZE - 1))?;
        if s.live { Some(s) } else { None }
    }

    /// Frees `id`, returning its series.
    pub(crate) fn remove(&mut self, id: u32) -> Option<MemSeries> {
        let s = self.get_mut(id)?;
        let old = std::mem::replace(s, MemSeries::vacant());
        self.live -= 1;
        self.free.push(id);
        Some(old)
    }

    /// Live series with their ids, ascending.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &MemSeries)> {
        self.pages.iter().enumerate().flat_map(|(p, page)| {
            page.iter().enumerate().filter(|(_, s)| s.live).map(move |(i, s)| (((p << PAGE_BITS) + i) as u32, s))
        })
    }

    /// Live series with their ids, ascending.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (u32, &mut MemSeries)> {
        self.pages.iter_mut().enumerate().flat_map(|(p, page)| {
            page.iter_mut().enumerate().filter(|(_, s)| s.live).map(move |(i, s)| (((p << PAGE_BITS) + i) as u32, s))
        })
    }

    /// Recomputes the free list (after a replay that placed series at given ids).
    pub(crate) fn rebuild_free_list(&mut self) {
        self.free.clear();
        for id in (1..self.capacity() as u32).rev() {
            if self.get(id).is_none() {
                self.free.push(id);
            }
        }
    }

    /// Approximate heap bytes of the pages themselves.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.capacity() * std::mem::size_of::<MemSeries>() + self.free.capacity() * 4
    }
}
