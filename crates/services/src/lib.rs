//! Public services (ЕПГУ): the service definitions and the catalog with its search.
//!
//! The catalog is read at start from the definitions shipped with the binary (the
//! `services/` directory of the repository, embedded) and, when configured, an operator's
//! directory of the same layout whose files add services or replace shipped ones of the
//! same name. Any invalid file stops the start with its name, line and reason.
//!
//! Layout: `agencies.toml`, `categories.toml`, `workflows/<id>.toml`, `catalog/<id>.toml`.

pub mod applications;
pub mod deadline;
pub mod definition;
pub mod documents;
pub mod files;
pub mod form;
pub mod search;

use std::collections::HashMap;
use std::path::Path;

use rust_embed::RustEmbed;

pub use definition::{
    Agency, Applicant, AttachmentRule, Category, Check, DefinitionError, Field, FieldKind, Format,
    IdentifierKind, Level, Prefill, Review, Role, Service, Source, Workflow,
};
use search::{Doc, Found, Index, Place};

#[derive(RustEmbed)]
#[folder = "../../services/"]
struct Shipped;

/// The source files of a catalog, by path relative to its root (`catalog/x.toml`).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: std::collections::BTreeMap<String, Source>,
}

impl Sources {
    /// The definitions shipped with the binary.
    pub fn shipped() -> Self {
        let mut files = std::collections::BTreeMap::new();
        for path in Shipped::iter() {
            if !path.ends_with(".toml") {
                continue;
            }
            if let Some(file) = Shipped::get(&path) {
                let text = String::from_utf8_lossy(&file.data).into_owned();
                let name = format!("services/{path}");
                files.insert(path.into_owned(), Source { name, text });
            }
        }
        Self { files }
    }

    /// Adds (or replaces, by relative path) a file.
    pub fn add(&mut self, relative: &str, name: &str, text: String) {
        self.files.insert(relative.to_owned(), Source { name: name.to_owned(), text });
    }

    /// Adds the `.toml` files of an operator's directory of the same layout.
    pub fn add_dir(&mut self, dir: &Path) -> Result<(), DefinitionError> {
        let unreadable = |path: &Path, e: std::io::Error| DefinitionError {
            file: path.display().to_string(),
            line: 0,
            reason: format!("не прочитать: {e}"),
        };
        for sub in ["", "workflows", "catalog"] {
            let folder = dir.join(sub);
            if !folder.is_dir() {
                continue;
            }
            let mut entries: Vec<_> = std::fs::read_dir(&folder)
                .map_err(|e| unreadable(&folder, e))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            entries.sort();
            for path in entries {
                let text = std::fs::read_to_string(&path).map_err(|e| unreadable(&path, e))?;
                let file =
                    path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
                let relative = if sub.is_empty() { file } else { format!("{sub}/{file}") };
                self.add(&relative, &path.display().to_string(), text);
            }
        }
        Ok(())
    }
}

/// The validated catalog with its search index.
#[derive(Debug)]
pub struct Catalog {
    services: Vec<Service>,
    by_id: HashMap<String, usize>,
    agencies: HashMap<String, Agency>,
    categories: Vec<Category>,
    workflows: HashMap<String, Workflow>,
    index: Index,
}

impl Catalog {
    /// The catalog shipped with the binary.
    pub fn shipped() -> Result<Self, Vec<DefinitionError>> {
        Self::from_sources(&Sources::shipped())
    }

    /// The shipped catalog with an operator's directory over it.
    pub fn load(extra: Option<&Path>) -> Result<Self, Vec<DefinitionError>> {
        let mut sources = Sources::shipped();
        if let Some(dir) = extra {
            sources.add_dir(dir).map_err(|e| vec![e])?;
        }
        Self::from_sources(&sources)
    }

    /// Checks every file; all errors are returned, not only the first.
    pub fn from_sources(sources: &Sources) -> Result<Self, Vec<DefinitionError>> {
        let mut errors = Vec::new();
        let missing = |name: &str| DefinitionError {
            file: format!("services/{name}"),
            line: 0,
            reason: "файла нет".into(),
        };
        let agencies: HashMap<String, Agency> = match sources.files.get("agencies.toml") {
            Some(src) => match definition::agencies(src) {
                Ok(list) => list.into_iter().map(|a| (a.id.clone(), a)).collect(),
                Err(e) => {
                    errors.push(e);
                    HashMap::new()
                }
            },
            None => {
                errors.push(missing("agencies.toml"));
                HashMap::new()
            }
        };
        let categories: Vec<Category> = match sources.files.get("categories.toml") {
            Some(src) => definition::categories(src).unwrap_or_else(|e| {
                errors.push(e);
                Vec::new()
            }),
            None => {
                errors.push(missing("categories.toml"));
                Vec::new()
            }
        };
        let mut workflows = HashMap::new();
        for (path, src) in sources.files.iter().filter(|(p, _)| p.starts_with("workflows/")) {
            match definition::workflow(src) {
                Ok(w) if format!("workflows/{}.toml", w.id) != *path => {
                    errors.push(DefinitionError {
                        file: src.name.clone(),
                        line: 1,
                        reason: format!("id «{}» не совпадает с именем файла", w.id),
                    })
                }
                Ok(w) => {
                    workflows.insert(w.id.clone(), w);
                }
                Err(e) => errors.push(e),
            }
        }
        let category_map: HashMap<String, Category> =
            categories.iter().map(|c| (c.id.clone(), c.clone())).collect();
        let known = definition::Known {
            agencies: &agencies,
            categories: &category_map,
            workflows: &workflows,
        };
        let mut services = Vec::new();
        for (path, src) in sources.files.iter().filter(|(p, _)| p.starts_with("catalog/")) {
            match definition::service(src, &known) {
                Ok(s) if format!("catalog/{}.toml", s.id) != *path => {
                    errors.push(DefinitionError {
                        file: src.name.clone(),
                        line: 1,
                        reason: format!("id «{}» не совпадает с именем файла", s.id),
                    })
                }
                Ok(s) => services.push(s),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self::assemble(services, agencies, categories, workflows))
    }

    fn assemble(
        mut services: Vec<Service>,
        agencies: HashMap<String, Agency>,
        categories: Vec<Category>,
        workflows: HashMap<String, Workflow>,
    ) -> Self {
        services.sort_by(|a, b| a.title.cmp(&b.title));
        let by_id = services.iter().enumerate().map(|(n, s)| (s.id.clone(), n)).collect();
        let contexts: Vec<String> = services
            .iter()
            .map(|s| {
                let agency = agencies.get(&s.agency);
                let category = categories.iter().find(|c| c.id == s.category);
                format!(
                    "{} {} {}",
                    agency.map_or("", |a| a.name.as_str()),
                    agency.map_or("", |a| a.full_name.as_str()),
                    category.map_or("", |c| c.title.as_str())
                )
            })
            .collect();
        let keywords: Vec<String> = services.iter().map(|s| s.keywords.join(" ")).collect();
        let docs: Vec<Doc<'_>> = services
            .iter()
            .enumerate()
            .map(|(n, s)| Doc {
                texts: vec![
                    (Place::Title, s.title.as_str()),
                    (Place::Keyword, keywords[n].as_str()),
                    (Place::Context, contexts[n].as_str()),
                    (Place::Description, s.summary.as_str()),
                    (Place::Description, s.description.as_str()),
                ],
                rank: s.popular.unwrap_or(u32::MAX),
            })
            .collect();
        let index = Index::build(&docs);
        Self { services, by_id, agencies, categories, workflows, index }
    }

    /// Every service, by title.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    pub fn service(&self, id: &str) -> Option<&Service> {
        self.by_id.get(id).map(|n| &self.services[*n])
    }

    pub fn agency(&self, id: &str) -> Option<&Agency> {
        self.agencies.get(id)
    }

    pub fn workflow(&self, id: &str) -> Option<&Workflow> {
        self.workflows.get(id)
    }

    /// The categories, in the order of `categories.toml`.
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    pub fn category(&self, id: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }

    pub fn in_category<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Service> + 'a {
        self.services.iter().filter(move |s| s.category == id)
    }

    /// The popular services, in their declared order.
    pub fn popular(&self) -> Vec<&Service> {
        let mut list: Vec<&Service> =
            self.services.iter().filter(|s| s.popular.is_some()).collect();
        list.sort_by_key(|s| s.popular);
        list
    }

    /// Services matching a query, best first; `partial` when none matched every word.
    pub fn search(&self, query: &str, limit: usize) -> (Vec<&Service>, bool) {
        let Found { hits, partial } = self.index.search(query, limit);
        (hits.into_iter().map(|h| &self.services[h.doc]).collect(), partial)
    }

    /// A catalog of `n` synthetic services over the shipped ones (benchmarks): titles and
    /// descriptions made from the shipped services' words.
    pub fn synthetic(n: usize) -> Result<Self, Vec<DefinitionError>> {
        let base = Self::shipped()?;
        let words: Vec<&str> = base
            .services
            .iter()
            .flat_map(|s| s.description.split_whitespace())
            .filter(|w| w.chars().count() > 3)
            .collect();
        let mut services = base.services.clone();
        for i in 0..n.saturating_sub(services.len()) {
            let mut s = base.services[i % base.services.len()].clone();
            let pick = |k: usize| words[(i * 7919 + k * 104_729) % words.len()];
            s.id = format!("synthetic-{i}");
            s.title = format!("{} {} {}", pick(1), pick(2), pick(3));
            s.summary = format!("{} {} {} {}", pick(4), pick(5), pick(6), pick(7));
            s.description = (8..40).map(pick).collect::<Vec<_>>().join(" ");
            s.popular = None;
            services.push(s);
        }
        Ok(Self::assemble(services, base.agencies, base.categories, base.workflows))
    }
}

/// Russian words for numbers: the right plural form, money.
pub mod words {
    /// The form of a noun for `n`: `one` (1, 21), `few` (2–4, 22–24), `many` (5–20, 25…).
    pub fn plural<'a>(n: u64, one: &'a str, few: &'a str, many: &'a str) -> &'a str {
        match (n % 10, n % 100) {
            (_, 11..=14) => many,
            (1, _) => one,
            (2..=4, _) => few,
            _ => many,
        }
    }

    /// The text with its first letter in lower case («Госпошлина …» → «госпошлина …»).
    pub fn lower_first(text: &str) -> String {
        let mut chars = text.chars();
        chars.next().map_or_else(String::new, |c| c.to_lowercase().chain(chars).collect())
    }

    /// The text with its first letter in upper case.
    pub fn upper_first(text: &str) -> String {
        let mut chars = text.chars();
        chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
    }

    /// «3 рабочих дня».
    pub fn working_days(n: u32) -> String {
        format!("{n} {}", plural(u64::from(n), "рабочий день", "рабочих дня", "рабочих дней"))
    }

    /// «1 500 ₽», «350,50 ₽»: thousands apart by a narrow no-break space.
    pub fn rubles(kopecks: u64) -> String {
        let (rub, kop) = (kopecks / 100, kopecks % 100);
        let digits = rub.to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push('\u{202f}');
            }
            grouped.push(c);
        }
        if kop == 0 { format!("{grouped} ₽") } else { format!("{grouped},{kop:02} ₽") }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn plurals_and_money() {
            let forms: Vec<String> = [1, 2, 5, 11, 21, 22, 25, 111, 112].map(working_days).to_vec();
            assert_eq!(
                forms,
                [
                    "1 рабочий день",
                    "2 рабочих дня",
                    "5 рабочих дней",
                    "11 рабочих дней",
                    "21 рабочий день",
                    "22 рабочих дня",
                    "25 рабочих дней",
                    "111 рабочих дней",
                    "112 рабочих дней"
                ]
            );
            assert_eq!(rubles(35000), "350 ₽");
            assert_eq!(rubles(150000), "1\u{202f}500 ₽");
            assert_eq!(rubles(35050), "350,50 ₽");
            assert_eq!(rubles(100_000_000), "1\u{202f}000\u{202f}000 ₽");
        }
    }
}
