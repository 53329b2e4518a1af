//! The PREFIXED bindings of one resource type, arranged so that finding those whose prefix a
//! resource name starts with walks the name once: a trie over the bytes of the prefixes.
//!
//! Why bytes: for whole UTF-8 strings, "the name starts with the prefix" is the same test on
//! bytes as on characters (and as Java's `startsWith` on UTF-16), so no decoding is needed.
//! A lookup costs one step per byte of the name (a binary search among at most 256 children)
//! plus one per value found, and allocates nothing. The trie holds at most one node per byte of
//! the distinct prefixes; it is built once per ACL change and never modified in place.

/// A trie from string prefixes to values.
#[derive(Debug, Clone)]
pub(super) struct PrefixTrie<T> {
    /// Invariant: `nodes[0]` is the root (the empty prefix); every child index is in bounds.
    nodes: Vec<Node<T>>,
}

#[derive(Debug, Clone)]
struct Node<T> {
    /// The next byte and the node it leads to; sorted by byte, for binary search.
    children: Vec<(u8, usize)>,
    /// The values stored under the prefix that ends at this node.
    values: Vec<T>,
}

impl<T> Node<T> {
    fn empty() -> Node<T> {
        Node {
            children: Vec::new(),
            values: Vec::new(),
        }
    }

    fn child(&self, byte: u8) -> Option<usize> {
        self.children
            .binary_search_by_key(&byte, |(b, _)| *b)
            .ok()
            .map(|i| self.children[i].1)
    }
}

impl<T> PrefixTrie<T> {
    pub(super) fn new() -> PrefixTrie<T> {
        PrefixTrie {
            nodes: vec![Node::empty()],
        }
    }

    /// Stores `value` under `prefix` (next to any value already there).
    pub(super) fn insert(&mut self, prefix: &str, value: T) {
        let mut node = 0;
        for byte in prefix.bytes() {
            node = match self.nodes[node]
                .children
                .binary_search_by_key(&byte, |(b, _)| *b)
            {
                Ok(i) => self.nodes[node].children[i].1,
                Err(i) => {
                    let child = self.nodes.len();
                    self.nodes.push(Node::empty());
                    self.nodes[node].children.insert(i, (byte, child));
                    child
                }
            };
        }
        self.nodes[node].values.push(value);
    }

    /// The values stored under every prefix of `name`, `name` itself and the empty prefix
    /// included, shortest prefix first.
    pub(super) fn prefixes_of<'a>(&'a self, name: &'a str) -> PrefixesOf<'a, T> {
        PrefixesOf {
            trie: self,
            name: name.as_bytes(),
            consumed: 0,
            node: Some(0),
            values: self.nodes[0].values.iter(),
        }
    }
}

/// The iterator of [`PrefixTrie::prefixes_of`].
pub(super) struct PrefixesOf<'a, T> {
    trie: &'a PrefixTrie<T>,
    name: &'a [u8],
    /// How many bytes of `name` lead to `node`.
    consumed: usize,
    /// The node whose values are being returned; `None` once the walk has left the trie.
    node: Option<usize>,
    values: std::slice::Iter<'a, T>,
}

impl<'a, T> Iterator for PrefixesOf<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        loop {
            if let Some(value) = self.values.next() {
                return Some(value);
            }
            let node = self.node?;
            let next = self
                .name
                .get(self.consumed)
                .and_then(|byte| self.trie.nodes[node].child(*byte));
            match next {
                Some(child) => {
                    self.consumed += 1;
                    self.node = Some(child);
                    self.values = self.trie.nodes[child].values.iter();
                }
                None => {
                    self.node = None;
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(trie: &PrefixTrie<&'static str>, name: &str) -> Vec<&'static str> {
        trie.prefixes_of(name).copied().collect()
    }

    #[test]
    fn finds_every_stored_prefix_of_a_name_shortest_first() {
        let mut trie = PrefixTrie::new();
        for prefix in ["foo", "f", "fob", "bar", "foo", "food"] {
            trie.insert(prefix, prefix);
        }
        assert_eq!(found(&trie, "food"), ["f", "foo", "foo", "food"]);
        assert_eq!(found(&trie, "foo"), ["f", "foo", "foo"]);
        assert_eq!(found(&trie, "fo"), ["f"]);
        assert_eq!(found(&trie, "fob-1"), ["f", "fob"]);
        assert_eq!(found(&trie, "barn"), ["bar"]);
        assert!(found(&trie, "ba").is_empty());
        assert!(found(&trie, "").is_empty());
        assert!(found(&trie, "x").is_empty());
    }

    #[test]
    fn the_empty_prefix_matches_every_name() {
        let mut trie = PrefixTrie::new();
        trie.insert("", "");
        trie.insert("a", "a");
        assert_eq!(found(&trie, "abc"), ["", "a"]);
        assert_eq!(found(&trie, "zzz"), [""]);
    }

    #[test]
    fn multi_byte_characters_match_whole() {
        let mut trie = PrefixTrie::new();
        trie.insert("é", "é");
        trie.insert("e", "e");
        assert_eq!(found(&trie, "été"), ["é"]);
        assert_eq!(found(&trie, "ete"), ["e"]);
    }
}
