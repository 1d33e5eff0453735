//! Typed arenas: values and ops live in vectors and are named by dense typed ids.
//!
//! `Arena<T>` owns the items; `Id<T>` is a `u32` index that cannot be confused with an id of another
//! arena's item type. Side tables keyed by id (`SecondaryMap`) hold analysis results without touching nodes.

use std::fmt;
use std::marker::PhantomData;

/// A typed index into an [`Arena<T>`].
pub struct Id<T> {
    index: u32,
    _kind: PhantomData<fn() -> T>,
}

impl<T> Id<T> {
    /// Makes an id from a raw index (used by parsers and deserializers; validity is checked by the verifier).
    pub const fn from_index(index: u32) -> Self {
        Self {
            index,
            _kind: PhantomData,
        }
    }

    /// The raw index.
    pub const fn index(self) -> usize {
        self.index as usize
    }
}

impl<T> Clone for Id<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Id<T> {}
impl<T> PartialEq for Id<T> {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index
    }
}
impl<T> Eq for Id<T> {}
impl<T> PartialOrd for Id<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Id<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.index.cmp(&other.index)
    }
}
impl<T> std::hash::Hash for Id<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.index.hash(state)
    }
}
impl<T> fmt::Debug for Id<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.index)
    }
}

/// An append-only vector of `T` addressed by [`Id<T>`].
#[derive(Debug, Clone, PartialEq)]
pub struct Arena<T> {
    items: Vec<T>,
}

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Self { items: Vec::new() }
    }
}

impl<T> Arena<T> {
    /// An empty arena.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `item` and returns its id.
    pub fn push(&mut self, item: T) -> Id<T> {
        let index = u32::try_from(self.items.len()).expect("arena holds at most 2^32 items");
        self.items.push(item);
        Id::from_index(index)
    }

    /// The item `id` names, or `None` if the id is out of range.
    pub fn get(&self, id: Id<T>) -> Option<&T> {
        self.items.get(id.index())
    }

    /// Mutable access to the item `id` names, or `None` if the id is out of range.
    pub fn get_mut(&mut self, id: Id<T>) -> Option<&mut T> {
        self.items.get_mut(id.index())
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the arena holds no item.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Ids and items in insertion order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (Id<T>, &T)> + '_ {
        self.items
            .iter()
            .enumerate()
            .map(|(i, item)| (Id::from_index(i as u32), item))
    }
}

impl<T> std::ops::Index<Id<T>> for Arena<T> {
    type Output = T;
    fn index(&self, id: Id<T>) -> &T {
        &self.items[id.index()]
    }
}

impl<T> std::ops::IndexMut<Id<T>> for Arena<T> {
    fn index_mut(&mut self, id: Id<T>) -> &mut T {
        &mut self.items[id.index()]
    }
}

/// A side table: one optional `V` per id of an arena of `K` (analysis results, not stored in nodes).
#[derive(Debug, Clone, PartialEq)]
pub struct SecondaryMap<K, V> {
    values: Vec<Option<V>>,
    _key: PhantomData<fn() -> K>,
}

impl<K, V> Default for SecondaryMap<K, V> {
    fn default() -> Self {
        Self {
            values: Vec::new(),
            _key: PhantomData,
        }
    }
}

impl<K, V> SecondaryMap<K, V> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the value of `id`, returning the previous one.
    pub fn insert(&mut self, id: Id<K>, value: V) -> Option<V> {
        if self.values.len() <= id.index() {
            self.values.resize_with(id.index() + 1, || None);
        }
        self.values[id.index()].replace(value)
    }

    /// The value of `id`, if set.
    pub fn get(&self, id: Id<K>) -> Option<&V> {
        self.values.get(id.index()).and_then(Option::as_ref)
    }
}

impl<T> serde::Serialize for Id<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self.index)
    }
}

impl<'de, T> serde::Deserialize<'de> for Id<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        u32::deserialize(deserializer).map(Id::from_index)
    }
}

impl<K, V> SecondaryMap<K, V> {
    /// Removes and returns the value of `id`.
    pub fn remove(&mut self, id: Id<K>) -> Option<V> {
        self.values.get_mut(id.index()).and_then(Option::take)
    }

    /// Whether `id` has a value.
    pub fn contains(&self, id: Id<K>) -> bool {
        self.get(id).is_some()
    }

    /// Ids and values that are set, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (Id<K>, &V)> + '_ {
        self.values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.as_ref().map(|v| (Id::from_index(i as u32), v)))
    }
}
