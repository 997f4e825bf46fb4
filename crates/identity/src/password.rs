//! Passwords: the policy (checked rule by rule, in Russian), strength (zxcvbn), and
//! Argon2id hashing off the async runtime.

use argon2::password_hash::PasswordHasher;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;

/// The password rules. Defaults follow seed 003 (8–20 characters, upper- and lower-case
/// letters, a digit and one of `! @ # $ % ^ & * ( )`), with the maximum raised to 64 so
/// passphrases fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_len: usize,
    pub max_len: usize,
    pub upper: bool,
    pub lower: bool,
    pub digit: bool,
    /// At least one of these; empty means no special character is required.
    pub specials: String,
    /// zxcvbn score (0–4) a password must reach.
    pub min_score: u8,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_len: 8,
            max_len: 64,
            upper: true,
            lower: true,
            digit: true,
            specials: "!@#$%^&*()".into(),
            min_score: 3,
        }
    }
}

/// One rule a password does not meet, as a Russian phrase («не короче 8 символов»).
pub type Unmet = String;

impl PasswordPolicy {
    /// Every rule `password` breaks, in a fixed order; empty when it meets them all.
    /// `personal` are words of the person (names, contact) that must not carry it.
    pub fn check(&self, password: &str, personal: &[&str]) -> Vec<Unmet> {
        let mut unmet = Vec::new();
        let len = password.chars().count();
        if len < self.min_len {
            unmet.push(format!("не короче {} символов", self.min_len));
        }
        if len > self.max_len {
            unmet.push(format!("не длиннее {} символов", self.max_len));
        }
        if self.upper && !password.chars().any(char::is_uppercase) {
            unmet.push("хотя бы одна заглавная буква".into());
        }
        if self.lower && !password.chars().any(char::is_lowercase) {
            unmet.push("хотя бы одна строчная буква".into());
        }
        if self.digit && !password.chars().any(|c| c.is_ascii_digit()) {
            unmet.push("хотя бы одна цифра".into());
        }
        if !self.specials.is_empty() && !password.chars().any(|c| self.specials.contains(c)) {
            let list: Vec<String> = self.specials.chars().map(String::from).collect();
            unmet.push(format!("хотя бы один из символов {}", list.join(" ")));
        }
        if password.chars().any(char::is_control) {
            unmet.push("без управляющих символов".into());
        }
        if unmet.is_empty() && len <= 256 {
            let entropy = zxcvbn::zxcvbn(password, personal);
            if (entropy.score() as u8) < self.min_score {
                let hint = entropy
                    .feedback()
                    .and_then(|f| f.warning())
                    .map_or("такой пароль легко подобрать", russian_warning);
                unmet.push(format!(
                    "слишком простой для подбора: {hint}; добавьте слов или символов"
                ));
            }
        }
        unmet
    }
}

fn russian_warning(w: zxcvbn::feedback::Warning) -> &'static str {
    use zxcvbn::feedback::Warning as W;
    match w {
        W::StraightRowsOfKeysAreEasyToGuess => "ряды клавиш подряд легко угадать",
        W::ShortKeyboardPatternsAreEasyToGuess => "короткие узоры на клавиатуре легко угадать",
        W::RepeatsLikeAaaAreEasyToGuess => "повторы вроде «aaa» легко угадать",
        W::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess => {
            "повторы вроде «abcabc» почти не усложняют пароль"
        }
        W::ThisIsATop10Password | W::ThisIsATop100Password | W::ThisIsACommonPassword => {
            "это один из самых распространённых паролей"
        }
        W::ThisIsSimilarToACommonlyUsedPassword => "он похож на распространённый пароль",
        W::SequencesLikeAbcAreEasyToGuess => {
            "последовательности вроде «abc» или «6543» легко угадать"
        }
        W::RecentYearsAreEasyToGuess => "недавние годы легко угадать",
        W::AWordByItselfIsEasyToGuess => "одно слово легко угадать",
        W::DatesAreOftenEasyToGuess => "даты легко угадать",
        W::NamesAndSurnamesByThemselvesAreEasyToGuess | W::CommonNamesAndSurnamesAreEasyToGuess => {
            "имена и фамилии легко угадать"
        }
    }
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashParams {
    /// 19 MiB, 2 passes, 1 lane: the OWASP baseline; benchmarked on 2 cores in
    /// `crates/identity/benches/password.rs` (see ARCHITECTURE.md for the figure).
    fn default() -> Self {
        Self { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 }
    }
}

/// Hashes and verifies passwords on a few dedicated threads, one per core.
///
/// Argon2id takes 19 MiB per hash. On the general blocking pool, many threads would hash
/// at once, each allocator arena keeping its 19 MiB afterwards (seen: 2 GB RSS after a
/// sign-in load test). A fixed set of workers bounds both the memory and the parallelism,
/// and queues requests fairly; the HTTP side never blocks.
#[derive(Clone)]
pub struct Hasher {
    jobs: std::sync::mpsc::Sender<Job>,
    /// The costs of real hashes (the demo account's are lighter).
    params: Params,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher").finish_non_exhaustive()
    }
}

enum Job {
    Hash { password: String, reply: tokio::sync::oneshot::Sender<Result<String, HashError>> },
    Verify { password: String, phc: Option<String>, reply: tokio::sync::oneshot::Sender<bool> },
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

impl Hasher {
    pub fn new(p: HashParams) -> Result<Self, HashError> {
        let params = Params::new(p.memory_kib, p.iterations, p.parallelism, None)
            .map_err(|e| HashError(e.to_string()))?;
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        // A hash of a random password, computed once on first need, verified against for
        // unknown logins so that their answer takes as long as a real check.
        let dummy = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        for i in 0..workers {
            let (queue, dummy, params) = (queue.clone(), dummy.clone(), params.clone());
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || work(&queue, &dummy, &params))
                .map_err(|e| HashError(e.to_string()))?;
        }
        Ok(Self { jobs, params })
    }

    /// The PHC string of the dev-mode demo account's password, at 1 MiB of memory: the
    /// allocator would keep a full-cost hash's 19 MiB for the life of an idle process,
    /// and that password is printed on the terminal anyway. Never for real accounts.
    pub async fn hash_demo(&self, password: &str) -> Result<String, HashError> {
        let params = Params::new(1024, self.params.t_cost(), 1, None)
            .map_err(|e| HashError(e.to_string()))?;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_with(&params, &password))
            .await
            .map_err(|e| HashError(e.to_string()))?
    }

    /// The PHC string of `password`.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Job::Hash { password: password.to_owned(), reply })
            .map_err(|_| HashError("hashing workers stopped".into()))?;
        answer.await.map_err(|_| HashError("hashing worker died".into()))?
    }

    /// Whether `password` matches `phc`; with `None`, checks against the dummy hash and
    /// answers false — the same work for an unknown login as for a known one.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> bool {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Job::Verify { password: password.to_owned(), phc: phc.map(str::to_owned), reply };
        if self.jobs.send(job).is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }
}

/// How long a worker keeps its Argon2 memory without work before giving it back.
const KEEP_MEMORY: std::time::Duration = std::time::Duration::from_secs(60);

/// A worker: takes jobs until every `Hasher` is dropped. It allocates Argon2's memory on
/// its first job and reuses it for every hash while busy, so the process holds at most
/// `workers × m_cost` however many passwords it checks; after a quiet minute it gives
/// the memory back, so an idle server stays small.
fn work(
    queue: &std::sync::Mutex<std::sync::mpsc::Receiver<Job>>,
    dummy: &std::sync::OnceLock<String>,
    params: &Params,
) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = match queue.lock() {
            Ok(q) => q.recv_timeout(KEEP_MEMORY),
            Err(poisoned) => poisoned.into_inner().recv_timeout(KEEP_MEMORY),
        };
        let job = match job {
            Ok(job) => job,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                memory = Vec::new();
                continue;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        };
        match job {
            Job::Hash { password, reply } => {
                let _ = reply.send(hash_into(params, &password, &mut memory));
            }
            Job::Verify { password, phc, reply } => {
                let known = phc.is_some();
                let phc = phc.unwrap_or_else(|| {
                    dummy
                        .get_or_init(|| {
                            let random: [u8; 16] = rand::random();
                            hash_into(params, &format!("{random:?}"), &mut memory)
                                .unwrap_or_default()
                        })
                        .clone()
                });
                let ok = verify_into(&password, &phc, params, &mut memory);
                let _ = reply.send(ok && known);
            }
        }
    }
}

const OUTPUT_LEN: usize = 32;

/// Argon2id of `password` with a fresh 16-byte salt, as a PHC string, computed in
/// `memory` (grown if the parameters need more).
fn hash_into(
    params: &Params,
    password: &str,
    memory: &mut Vec<Block>,
) -> Result<String, HashError> {
    let salt: [u8; 16] = rand::random();
    let mut out = [0u8; OUTPUT_LEN];
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::new());
    }
    argon(params)
        .hash_password_into_with_memory(
            password.as_bytes(),
            &salt,
            &mut out,
            &mut memory[..params.block_count()],
        )
        .map_err(|e| HashError(e.to_string()))?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        PHC_B64.encode(salt),
        PHC_B64.encode(out)
    ))
}

/// Checks `password` against an Argon2id PHC string (ours or any standard one).
fn verify_into(password: &str, phc: &str, default: &Params, memory: &mut Vec<Block>) -> bool {
    let parts: Vec<&str> = phc.split('$').collect();
    let ["", "argon2id", "v=19", costs, salt, hash] = parts.as_slice() else {
        return false;
    };
    let cost = |name: &str| {
        costs
            .split(',')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse::<u32>().ok())
    };
    let (Some(m), Some(t), Some(p)) = (cost("m"), cost("t"), cost("p")) else {
        return false;
    };
    let (Ok(salt), Ok(expected)) = (PHC_B64.decode(salt), PHC_B64.decode(hash)) else {
        return false;
    };
    let params = if (m, t, p) == (default.m_cost(), default.t_cost(), default.p_cost())
        && expected.len() == OUTPUT_LEN
    {
        default.clone()
    } else {
        match Params::new(m, t, p, Some(expected.len())) {
            Ok(params) => params,
            Err(_) => return false,
        }
    };
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::new());
    }
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    if argon(&params)
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, &mut memory[..blocks])
        .is_err()
    {
        return false;
    }
    out.iter().zip(&expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

fn argon(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

/// Hashes with the library's own allocation (for benchmarks and interoperability tests).
pub fn hash_with(params: &Params, password: &str) -> Result<String, HashError> {
    argon(params)
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// PHC strings use standard base64 without padding.
const PHC_B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD_NO_PAD;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unmet_rule_is_listed_in_russian() {
        let p = PasswordPolicy::default();
        assert_eq!(
            p.check("abc", &[]),
            vec![
                "не короче 8 символов",
                "хотя бы одна заглавная буква",
                "хотя бы одна цифра",
                "хотя бы один из символов ! @ # $ % ^ & * ( )",
            ]
        );
        assert!(p.check(&"Aa1!".repeat(17), &[]).contains(&"не длиннее 64 символов".to_owned()));
        assert!(p.check("Tr0ub4dour&3Horse!", &[]).is_empty());
    }

    #[test]
    fn guessable_passwords_are_refused_with_a_hint() {
        let p = PasswordPolicy::default();
        let unmet = p.check("Password1!", &[]);
        assert_eq!(unmet.len(), 1, "{unmet:?}");
        assert!(unmet[0].starts_with("слишком простой"), "{unmet:?}");
        let personal = p.check("Ivanov1990!", &["Ivanov", "1990"]);
        assert!(!personal.is_empty(), "personal words make it guessable");
    }

    #[test]
    fn our_phc_strings_are_standard_argon2id() {
        use argon2::password_hash::PasswordVerifier;
        let params = Params::new(1024, 1, 1, None).unwrap();
        let mut memory = Vec::new();
        let ours = hash_into(&params, "Пароль-1!", &mut memory).unwrap();
        assert!(argon(&params).verify_password("Пароль-1!".as_bytes(), ours.as_str()).is_ok());
        let theirs = hash_with(&params, "Пароль-1!").unwrap();
        assert!(verify_into("Пароль-1!", &theirs, &params, &mut memory));
        assert!(!verify_into("пароль-1!", &theirs, &params, &mut memory));
        // Other costs (an older policy) still verify.
        let older = hash_with(&Params::new(2048, 2, 1, None).unwrap(), "Пароль-1!").unwrap();
        assert!(verify_into("Пароль-1!", &older, &params, &mut memory));
        assert!(!verify_into(
            "Пароль-1!",
            "$argon2i$v=19$m=1024,t=1,p=1$AAAA$AAAA",
            &params,
            &mut memory
        ));
    }

    #[tokio::test]
    async fn hashes_verify_and_unknown_logins_never_pass() {
        let h =
            Hasher::new(HashParams { memory_kib: 1024, iterations: 1, parallelism: 1 }).unwrap();
        let phc = h.hash("Верный-пароль-1!").await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(h.verify("Верный-пароль-1!", Some(&phc)).await);
        assert!(!h.verify("неверный", Some(&phc)).await);
        assert!(!h.verify("Верный-пароль-1!", None).await);
    }
}
