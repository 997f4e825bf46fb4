//! Catalog search that understands Russian word forms and forgives typos.
//!
//! Every text is cut into words, lower-cased (ё read as е) and reduced to its stem by the
//! Snowball Russian stemmer, so «выписки», «выписку» and «Выписка» are one term. The
//! index maps each term to the documents holding it, with a weight by where it stands
//! (title above keywords above the description). A query term matches a document term
//! exactly, as a prefix (the word being typed) or within one or two edits (a typo); a
//! word typed in the Latin layout by mistake («dsgbcrf») is read again as Cyrillic. All
//! query terms must match; if nothing matches them all, the documents matching most of
//! them are returned, marked partial.

use std::collections::{BTreeMap, HashMap};

use rust_stemmers::{Algorithm, Stemmer};

/// Words that carry no meaning for search.
const STOP: [&str; 24] = [
    "и", "в", "во", "не", "на", "из", "о", "об", "от", "по", "с", "со", "для", "к", "ко", "у",
    "за", "до", "при", "без", "а", "или", "как", "что",
];

/// Where a word stands in a document, by weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Place {
    Description = 1,
    Context = 2,
    Keyword = 3,
    Title = 4,
}

/// One document to index: its texts by place, and a rank among equals (lower first).
#[derive(Debug, Clone)]
pub struct Doc<'a> {
    pub texts: Vec<(Place, &'a str)>,
    pub rank: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// The document's position in the list given to [`Index::build`].
    pub doc: usize,
    pub score: u32,
}

/// The answer to a query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Found {
    pub hits: Vec<Hit>,
    /// No document matched every word: these match some of them.
    pub partial: bool,
}

pub struct Index {
    stemmer: Stemmer,
    /// Term → (document, best weight there), documents ascending.
    terms: BTreeMap<String, Vec<(u32, u8)>>,
    /// Terms by length in characters, for the typo scan.
    by_len: HashMap<usize, Vec<String>>,
    ranks: Vec<u32>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index").field("terms", &self.terms.len()).finish_non_exhaustive()
    }
}

/// How a query term met a document term; the score is weight × this.
const EXACT: u32 = 4;
const PREFIX: u32 = 3;
const FUZZY: u32 = 2;

impl Index {
    pub fn build(docs: &[Doc<'_>]) -> Self {
        let stemmer = Stemmer::create(Algorithm::Russian);
        let mut terms: BTreeMap<String, Vec<(u32, u8)>> = BTreeMap::new();
        for (n, doc) in docs.iter().enumerate() {
            let n = n as u32;
            for (place, text) in &doc.texts {
                for term in terms_of(&stemmer, text) {
                    let postings = terms.entry(term).or_default();
                    match postings.last_mut() {
                        Some((d, w)) if *d == n => *w = (*w).max(*place as u8),
                        _ => postings.push((n, *place as u8)),
                    }
                }
            }
        }
        let mut by_len: HashMap<usize, Vec<String>> = HashMap::new();
        for term in terms.keys() {
            by_len.entry(term.chars().count()).or_default().push(term.clone());
        }
        Self { stemmer, terms, by_len, ranks: docs.iter().map(|d| d.rank).collect() }
    }

    /// The documents matching `query`, best first, at most `limit`. A query typed on the
    /// Latin layout by mistake is read again as the Cyrillic it meant when that finds
    /// more.
    pub fn search(&self, query: &str, limit: usize) -> Found {
        let found = self.search_terms(terms_of(&self.stemmer, query), limit);
        if (found.hits.is_empty() || found.partial)
            && let Some(cyrillic) = from_latin_layout(query)
        {
            let again = self.search_terms(terms_of(&self.stemmer, &cyrillic), limit);
            if !again.hits.is_empty() && (!again.partial || found.hits.is_empty()) {
                return again;
            }
        }
        found
    }

    fn search_terms(&self, mut words: Vec<String>, limit: usize) -> Found {
        words.dedup();
        if words.is_empty() {
            return Found::default();
        }
        // Per document: the score and how many query words it matched.
        let mut scores: HashMap<u32, (u32, u32)> = HashMap::new();
        for word in &words {
            for (doc, score) in self.matches(word) {
                let entry = scores.entry(doc).or_default();
                entry.0 += score;
                entry.1 += 1;
            }
        }
        let all = words.len() as u32;
        let complete = scores.values().any(|(_, n)| *n == all);
        let mut hits: Vec<(u32, u32, u32)> = scores
            .into_iter()
            .filter(|(_, (_, n))| !complete || *n == all)
            .map(|(doc, (score, n))| (doc, score, n))
            .collect();
        hits.sort_by(|a, b| {
            b.2.cmp(&a.2)
                .then(b.1.cmp(&a.1))
                .then(self.ranks[a.0 as usize].cmp(&self.ranks[b.0 as usize]))
                .then(a.0.cmp(&b.0))
        });
        hits.truncate(limit);
        Found {
            hits: hits
                .into_iter()
                .map(|(doc, score, _)| Hit { doc: doc as usize, score })
                .collect(),
            partial: !complete,
        }
    }

    /// The documents one query term meets, each with its best score.
    fn matches(&self, word: &str) -> HashMap<u32, u32> {
        let mut best: HashMap<u32, u32> = HashMap::new();
        let mut add = |postings: &[(u32, u8)], how: u32| {
            for (doc, weight) in postings {
                let s = u32::from(*weight) * how;
                let e = best.entry(*doc).or_default();
                *e = (*e).max(s);
            }
        };
        if let Some(p) = self.terms.get(word) {
            add(p, EXACT);
        }
        let len = word.chars().count();
        // The word being typed: a prefix of longer terms (from three letters on).
        if len >= 3 {
            let from = (std::ops::Bound::Included(word), std::ops::Bound::Unbounded);
            for (term, p) in self.terms.range::<str, _>(from) {
                if !term.starts_with(word) {
                    break;
                }
                if term != word {
                    add(p, PREFIX);
                }
            }
        }
        // Typos: one edit for words of 4–6 letters, two from 7 on.
        let edits = match len {
            0..=3 => 0,
            4..=6 => 1,
            _ => 2,
        };
        if edits > 0 {
            for l in len.saturating_sub(edits)..=len + edits {
                for term in self.by_len.get(&l).into_iter().flatten() {
                    if term != word && strsim::damerau_levenshtein(word, term) <= edits {
                        add(&self.terms[term.as_str()], FUZZY);
                    }
                }
            }
        }
        best
    }
}

/// The stems of a text's meaningful words, in order.
fn terms_of(stemmer: &Stemmer, text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase().replace('ё', "е"))
        .filter(|w| {
            (!STOP.contains(&w.as_str()) && w.chars().count() > 1)
                || w.chars().all(|c| c.is_ascii_digit())
        })
        .map(|w| stemmer.stem(&w).into_owned())
        .collect()
}

/// Text typed on the Latin layout of a Russian keyboard, read as the Cyrillic it meant
/// («dsgbcrf» → «выписка»); `None` when it has letters outside that layout or none at all.
fn from_latin_layout(text: &str) -> Option<String> {
    const LATIN: &str = "qwertyuiop[]asdfghjkl;'zxcvbnm,.`";
    const CYRILLIC: &str = "йцукенгшщзхъфывапролджэячсмитьбюё";
    let lower = text.to_lowercase();
    if !lower.chars().any(|c| c.is_ascii_lowercase()) {
        return None;
    }
    lower
        .chars()
        .map(|c| match LATIN.chars().position(|l| l == c) {
            Some(i) => CYRILLIC.chars().nth(i),
            None if c == ' ' || c.is_ascii_digit() || c == '-' => Some(c),
            None => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(titles: &[&str]) -> Index {
        let docs: Vec<Doc<'_>> = titles
            .iter()
            .enumerate()
            .map(|(n, t)| Doc { texts: vec![(Place::Title, *t)], rank: n as u32 })
            .collect();
        Index::build(&docs)
    }

    fn first(index: &Index, query: &str) -> Option<usize> {
        index.search(query, 10).hits.first().map(|h| h.doc)
    }

    #[test]
    fn word_forms_typos_prefixes_and_layout_find_the_service() {
        let i = index(&[
            "Выписка из ЕГРН",
            "Справка о доходах",
            "Замена паспорта гражданина РФ",
            "Справка о наличии (отсутствии) судимости",
        ]);
        assert_eq!(first(&i, "выписки из егрн"), Some(0));
        assert_eq!(first(&i, "ВЫПИСКУ ЕГРН"), Some(0));
        assert_eq!(first(&i, "выпска егрн"), Some(0), "a missing letter");
        assert_eq!(first(&i, "спраквка о судимости"), Some(3), "a letter too many");
        assert_eq!(first(&i, "замена паспо"), Some(2), "a word being typed");
        assert_eq!(first(&i, "cghfdrf j lj[jlf["), Some(1), "typed on the Latin layout");
        assert_eq!(first(&i, "Dsgbcrf tuhy"), Some(0));
        assert_eq!(first(&i, "справки"), Some(1), "both certificates, the first by rank");
        assert_eq!(i.search("справки", 10).hits.len(), 2);
        assert!(i.search("лицензия", 10).hits.is_empty());
        assert!(i.search("из и в", 10).hits.is_empty(), "only stop words");
    }

    #[test]
    fn every_word_must_match_unless_none_does() {
        let i = index(&["Выписка из ЕГРН", "Выписка из ЕГРИП"]);
        let found = i.search("выписка егрип", 10);
        assert_eq!(found.hits.iter().map(|h| h.doc).collect::<Vec<_>>(), vec![1]);
        assert!(!found.partial);
        let found = i.search("выписка лицензия", 10);
        assert!(found.partial);
        assert_eq!(found.hits.len(), 2);
    }

    #[test]
    fn the_title_outweighs_the_description() {
        let docs = vec![
            Doc {
                texts: vec![(Place::Title, "Справка о доходах"), (Place::Description, "паспорт")],
                rank: 0,
            },
            Doc { texts: vec![(Place::Title, "Замена паспорта")], rank: 1 },
        ];
        let i = Index::build(&docs);
        assert_eq!(first(&i, "паспорт"), Some(1));
    }
}
