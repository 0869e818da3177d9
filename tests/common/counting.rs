//! A layer source that counts what it is asked for: which store paths' NARs it opened (a path
//! twice means its layer was read twice) and how many listings it made.

use std::sync::Mutex;

use biar::image::{ImageError, ListStream, NarSource, NarStream};

pub struct Counting<S> {
    inner: S,
    opened: Mutex<Vec<String>>,
    lists: Mutex<usize>,
}

impl<S: NarSource> Counting<S> {
    pub fn new(inner: S) -> Counting<S> {
        Counting {
            inner,
            opened: Mutex::default(),
            lists: Mutex::default(),
        }
    }

    /// Every path opened, once per opening, sorted.
    pub fn opened(&self) -> Vec<String> {
        let mut v = self.opened.lock().unwrap().clone();
        v.sort();
        v
    }

    pub fn lists(&self) -> usize {
        *self.lists.lock().unwrap()
    }
}

impl<S: NarSource> NarSource for Counting<S> {
    fn open(&self, paths: &[String]) -> Result<NarStream, ImageError> {
        self.opened.lock().unwrap().extend_from_slice(paths);
        self.inner.open(paths)
    }

    fn list(&self, paths: &[String]) -> Option<ListStream> {
        *self.lists.lock().unwrap() += 1;
        self.inner.list(paths)
    }
}
