//! Visited set with epochs: `begin` is O(1), so a search never clears memory.

pub struct Visited {
    marks: Vec<u16>,
    epoch: u16,
}

impl Default for Visited {
    fn default() -> Self {
        Visited { marks: Vec::new(), epoch: 0 }
    }
}

impl Visited {
    /// Starts a new search over ids < `n`.
    pub fn begin(&mut self, n: usize) {
        if self.marks.len() < n {
            // Grow with head-room so a growing index does not reallocate every query.
            self.marks.resize(n + n / 4 + 64, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.iter_mut().for_each(|m| *m = 0);
            self.epoch = 1;
        }
    }

    /// Marks `id`; returns true when it was not yet visited in this search.
    #[inline]
    pub fn insert(&mut self, id: u32) -> bool {
        let m = &mut self.marks[id as usize];
        if *m == self.epoch {
            false
        } else {
            *m = self.epoch;
            true
        }
    }
}
