//! The ranking session behind the web page: images, the log, the TrueSkill session rebuilt
//! from it, the pairing mode, and every action the page can take. No HTTP here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rateme_rank::pairing::{Active, Elimination, Original, PairingMode, RandomPairs};
use rateme_rank::posterior::Posterior;
use rateme_rank::session::{Outcome, Session, Status};
use rateme_rank::trueskill::{Rating, TrueSkill};
use serde::Serialize;

use crate::folder::{self, FileState};
use crate::store::{Event, Record, Store, StoreError};

/// Why an action was refused.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request does not make sense (unknown image, winner not shown, ...).
    #[error("{0}")]
    Bad(String),
    /// Storage failed; nothing was changed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Pair-selection modes the page offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModeName {
    /// Information gain under the posterior (rateme's).
    Active,
    /// image-ranker's ring, shuffled pairs and smart shuffle.
    Original,
    /// Uniformly random pairs.
    Random,
    /// Sequential elimination.
    Elimination,
}

impl ModeName {
    /// Parses a mode name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => Self::Active,
            "original" => Self::Original,
            "random" => Self::Random,
            "elimination" => Self::Elimination,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Original => "original",
            Self::Random => "random",
            Self::Elimination => "elimination",
        }
    }
}

enum Mode {
    Active(Active),
    Original(Original),
    Random(RandomPairs),
    Elimination(Elimination),
}

impl Mode {
    fn new(name: ModeName, seed: u64, auto_shuffle: bool) -> Self {
        match name {
            ModeName::Active => Mode::Active(Active::new(seed)),
            ModeName::Original => {
                Mode::Original(Original::with_auto_shuffle(seed, auto_shuffle.then_some(3)))
            }
            ModeName::Random => Mode::Random(RandomPairs::new(seed)),
            ModeName::Elimination => Mode::Elimination(Elimination::new(seed)),
        }
    }

    fn get(&mut self) -> &mut dyn PairingMode {
        match self {
            Mode::Active(m) => m,
            Mode::Original(m) => m,
            Mode::Random(m) => m,
            Mode::Elimination(m) => m,
        }
    }
}

/// Settings fixed when a session starts.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The image folder.
    pub root: PathBuf,
    /// TrueSkill environment (the original app: mu 0, sigma 8.33).
    pub env: TrueSkill,
    /// Seed of the pairing modes.
    pub seed: u64,
    /// A model's scores to start from (`runner rank --prior`); `None` keeps the prior stored
    /// with the session, if any.
    pub prior: Option<ModelPrior>,
}

/// A trained model's opinion of the images: the session's starting point. Stored with the
/// session, so a restart keeps it and the session stays a function of what it stored.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ModelPrior {
    /// The run whose model scored the images.
    pub run: String,
    /// Correlation of its scores with the truth the calibration assumes (from the run's
    /// validation Spearman).
    pub correlation: f64,
    /// The model's score of each image (path relative to the folder).
    pub scores: std::collections::BTreeMap<String, f64>,
}

/// One image as the page sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ImageRow {
    /// Index.
    pub id: usize,
    /// Path relative to the folder.
    pub name: String,
    /// `/img/<id>`.
    pub url: String,
    /// `/thumb/<id>`.
    pub thumb: String,
    /// Online TrueSkill mean (one update per vote, in order: what image-ranker shows).
    pub mu: f64,
    /// Online TrueSkill deviation.
    pub sigma: f64,
    /// Online mu − 3σ.
    pub conservative: f64,
    /// The score rankings are ordered by: the mean of TrueSkill's model fitted to all votes at
    /// once (order-free, what the active mode is measured by, and the manifest's target).
    pub fit_mu: f64,
    /// Its deviation.
    pub fit_sigma: f64,
    /// fit_mu − 3·fit_sigma, the conservative score.
    pub fit_conservative: f64,
    /// The model prior's score of the image (`runner rank --prior`).
    pub prior_score: Option<f64>,
    /// The starting rating the prior gave it: mean.
    pub prior_mu: Option<f64>,
    /// And deviation.
    pub prior_sigma: Option<f64>,
    /// Comparisons taken part in.
    pub comparisons: u32,
    /// Times preferred.
    pub up: u32,
    /// Times not preferred.
    pub down: u32,
    /// `active`, `excluded`, `removed`, `unreadable` or `missing`.
    pub state: String,
}

/// Which score a rankings export is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Score {
    /// The posterior fitted to all votes (the default; what the page shows).
    Fit,
    /// The online TrueSkill values, as image-ranker computed them.
    Online,
}

impl Score {
    /// Parses `fit` or `online`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fit" => Some(Self::Fit),
            "online" => Some(Self::Online),
            _ => None,
        }
    }
}

/// Images shown in a vote (by index) and the one picked (`None`: skipped).
pub type Shown = (Vec<usize>, Option<usize>);

/// A ranking session.
pub struct Ranker {
    settings: Settings,
    store: Store,
    images: Vec<String>,
    files: Vec<FileState>,
    log: Vec<Record>,
    session: Session,
    mode_name: ModeName,
    auto_shuffle: bool,
    mode: Mode,
    /// Effective votes (not undone, after the last start over, not skips).
    comparisons: usize,
    /// The fitted posterior's (mean, sd) per image, and the log length it was fitted at.
    fitted: Option<(usize, Vec<(f64, f64)>)>,
    /// The model prior in effect, if any.
    prior: Option<ModelPrior>,
    /// Each image's starting rating (the environment's without a prior).
    priors: Vec<Rating>,
    /// Groups shown and skipped since the last start over (the active mode avoids them).
    skips: Vec<Vec<usize>>,
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Ranker {
    /// Opens the session in `store` for the folder's `images` (their `files` states) and
    /// replays its log.
    pub fn open(
        settings: Settings,
        mut store: Store,
        listed: &[String],
        mut check: impl FnMut(&str) -> FileState,
    ) -> Result<Self, AppError> {
        let images = store.images(listed)?;
        let files = images.iter().map(|p| check(p)).collect();
        let log = store.log()?;
        let mode_name = store
            .get("mode")?
            .and_then(|m| ModeName::parse(&m))
            .unwrap_or(ModeName::Active);
        let auto_shuffle = store.get("auto_shuffle")?.is_none_or(|v| v == "true");
        // The prior in effect is always the one read back from the store, so a restart (which
        // reads it) starts from the very same numbers as the first run.
        if let Some(p) = &settings.prior {
            store.set(
                "prior",
                &serde_json::to_string(p).expect("a prior serialises"),
            )?;
        }
        let prior: Option<ModelPrior> = match store.get("prior")? {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| {
                AppError::Bad(format!("the session's stored prior is unreadable: {e}"))
            })?),
            None => None,
        };
        let priors = match &prior {
            Some(p) => {
                let scores: Vec<Option<f64>> =
                    images.iter().map(|i| p.scores.get(i).copied()).collect();
                rateme_rank::prior::calibrated(&settings.env, &scores, p.correlation)
            }
            None => vec![settings.env.rating(); images.len()],
        };
        let session = Session::with_priors(settings.env, priors.clone());
        let mut r = Self {
            mode: Mode::new(mode_name, settings.seed, auto_shuffle),
            settings,
            store,
            images,
            files,
            log,
            session,
            mode_name,
            auto_shuffle,
            comparisons: 0,
            fitted: None,
            prior,
            priors,
            skips: Vec::new(),
        };
        r.rebuild();
        Ok(r)
    }

    /// Sequence numbers of the votes taken back.
    fn undone(&self) -> std::collections::HashSet<i64> {
        self.log
            .iter()
            .filter_map(|r| match r.event {
                Event::Undo { seq } => Some(seq),
                _ => None,
            })
            .collect()
    }

    /// Recomputes the session from the log (after a restart, an undo, an import).
    fn rebuild(&mut self) {
        let n = self.images.len();
        let undone = self.undone();
        let fresh = |images: &[FileState]| {
            let mut s = Session::with_priors(self.settings.env, self.priors.clone());
            for (i, f) in images.iter().enumerate() {
                if !matches!(f, FileState::Ok { .. }) {
                    s.exclude(i);
                }
            }
            s
        };
        let mut s = fresh(&self.files);
        let mut removed = vec![false; n];
        let mut comparisons = 0;
        let mut skips: Vec<Vec<usize>> = Vec::new();
        for r in &self.log {
            match &r.event {
                Event::Vote { items, winner } => {
                    if undone.contains(&r.seq) {
                        continue;
                    }
                    if winner.is_none() && items.iter().all(|&i| i < n && !removed[i]) {
                        skips.push(items.clone());
                    }
                    if let Some(o) = outcome(items, *winner)
                        && o.items().iter().all(|&i| i < n && !removed[i])
                    {
                        s.record(o);
                        comparisons += 1;
                    }
                }
                Event::Exclude { image } if *image < n => s.exclude(*image),
                Event::Include { image } if *image < n => {
                    if matches!(self.files[*image], FileState::Ok { .. }) {
                        s.include(*image)
                    }
                }
                Event::Remove { image } if *image < n => {
                    removed[*image] = true;
                    comparisons -= s
                        .history()
                        .iter()
                        .filter(|o| o.items().contains(image))
                        .count();
                    s.remove(*image);
                    skips.retain(|g| !g.contains(image));
                }
                Event::StartOver | Event::Reset => {
                    if matches!(r.event, Event::Reset) {
                        removed = vec![false; n];
                    }
                    let status: Vec<Status> = s.status().to_vec();
                    s = fresh(&self.files);
                    for (i, st) in status.iter().enumerate() {
                        if removed[i] {
                            s.remove(i);
                        } else if *st == Status::Excluded && matches!(r.event, Event::StartOver) {
                            s.exclude(i);
                        }
                    }
                    comparisons = 0;
                    skips.clear();
                }
                _ => {}
            }
        }
        self.session = s;
        self.comparisons = comparisons;
        self.skips = skips;
        self.reset_mode();
    }

    fn reset_mode(&mut self) {
        self.mode = Mode::new(self.mode_name, self.settings.seed, self.auto_shuffle);
        let m = self.mode.get();
        for o in self.session.history() {
            m.observe(&self.session, o);
        }
        for g in &self.skips {
            m.skipped(&self.session, g);
        }
    }

    fn append(&mut self, uid: Option<&str>, event: Event, rater: &str) -> Result<bool, AppError> {
        match self.store.append(uid, &event, rater, now())? {
            Some(rec) => {
                self.log.push(rec);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn check_image(&self, id: usize) -> Result<(), AppError> {
        if id < self.images.len() {
            Ok(())
        } else {
            Err(AppError::Bad(format!(
                "no image {id} (the folder has {})",
                self.images.len()
            )))
        }
    }

    /// Records a vote (`winner: None` = skip). Committed to disk before it returns. A retry
    /// with a `uid` already logged changes nothing. Returns the comparisons count.
    pub fn vote(
        &mut self,
        uid: &str,
        rater: &str,
        items: &[usize],
        winner: Option<usize>,
    ) -> Result<usize, AppError> {
        if items.len() < 2 {
            return Err(AppError::Bad("a vote shows at least two images".into()));
        }
        for (k, &i) in items.iter().enumerate() {
            self.check_image(i)?;
            if items[..k].contains(&i) {
                return Err(AppError::Bad(format!("image {i} shown twice")));
            }
            if self.session.status()[i] == Status::Removed {
                return Err(AppError::Bad(format!(
                    "image {i} was removed meanwhile; ask for the next pair"
                )));
            }
        }
        if let Some(w) = winner
            && !items.contains(&w)
        {
            return Err(AppError::Bad(format!("winner {w} was not shown")));
        }
        if uid.is_empty() || uid.len() > 100 {
            return Err(AppError::Bad(
                "uid: give a unique id of 1..100 characters".into(),
            ));
        }
        let event = Event::Vote {
            items: items.to_vec(),
            winner,
        };
        if self.append(Some(uid), event, rater)? {
            match outcome(items, winner) {
                Some(o) => {
                    self.session.record(o.clone());
                    self.comparisons += 1;
                    self.mode.get().observe(&self.session, &o);
                }
                None => {
                    self.skips.push(items.to_vec());
                    self.mode.get().skipped(&self.session, items);
                }
            }
        }
        Ok(self.comparisons)
    }

    /// Takes back `rater`'s last vote (since the last start over); returns it.
    pub fn undo(&mut self, rater: &str) -> Result<Option<Shown>, AppError> {
        let undone = self.undone();
        let last = self
            .log
            .iter()
            .rev()
            .take_while(|r| !matches!(r.event, Event::StartOver | Event::Reset))
            .find(|r| {
                r.rater == rater
                    && matches!(r.event, Event::Vote { .. })
                    && !undone.contains(&r.seq)
            })
            .cloned();
        let Some(last) = last else { return Ok(None) };
        self.append(None, Event::Undo { seq: last.seq }, rater)?;
        self.rebuild();
        match last.event {
            Event::Vote { items, winner } => Ok(Some((items, winner))),
            _ => unreachable!("found a vote"),
        }
    }

    /// Excludes, includes or removes an image.
    pub fn image_action(&mut self, id: usize, action: &str, rater: &str) -> Result<(), AppError> {
        self.check_image(id)?;
        let event = match action {
            "exclude" => Event::Exclude { image: id },
            "include" if self.session.status()[id] == Status::Removed => {
                return Err(AppError::Bad(format!(
                    "image {id} was removed and its votes dropped; a removal is final (an import that replaces starts afresh)"
                )));
            }
            "include" => Event::Include { image: id },
            "remove" => Event::Remove { image: id },
            other => {
                return Err(AppError::Bad(format!(
                    "unknown action `{other}`: exclude, include or remove"
                )));
            }
        };
        self.append(None, event, rater)?;
        self.rebuild();
        Ok(())
    }

    /// Forgets every vote's effect (kept in the log).
    pub fn start_over(&mut self, rater: &str) -> Result<(), AppError> {
        self.append(None, Event::StartOver, rater)?;
        self.rebuild();
        Ok(())
    }

    /// Changes the pairing mode and/or auto-shuffle.
    pub fn set_mode(
        &mut self,
        mode: Option<&str>,
        auto_shuffle: Option<bool>,
    ) -> Result<(), AppError> {
        if let Some(m) = mode {
            self.mode_name = ModeName::parse(m).ok_or_else(|| {
                AppError::Bad(format!(
                    "unknown mode `{m}`: active, original, random or elimination"
                ))
            })?;
            self.store.set("mode", m)?;
        }
        if let Some(a) = auto_shuffle {
            self.auto_shuffle = a;
            self.store
                .set("auto_shuffle", if a { "true" } else { "false" })?;
        }
        self.reset_mode();
        Ok(())
    }

    /// Smart shuffle now (the original mode's button).
    pub fn shuffle(&mut self) {
        if let Mode::Original(m) = &mut self.mode {
            m.smart_shuffle(&self.session);
        }
    }

    /// The next images to show (`size` 2, or 4 for best of four); empty when done.
    pub fn next(&mut self, size: usize) -> Vec<usize> {
        let m = self.mode.get();
        if m.reads_posterior() {
            self.session.refresh_posterior();
        }
        let m = self.mode.get();
        let items = if size <= 2 {
            m.next_pair(&self.session)
                .map(|(a, b)| vec![a, b])
                .unwrap_or_default()
        } else {
            m.next_group(&self.session, size).unwrap_or_default()
        };
        // Sequential elimination ends, as in image-ranker, when one image is left: the mode
        // would start a second round, which the page offers by switching modes instead.
        match &self.mode {
            Mode::Elimination(e) if e.rounds() > 1 => Vec::new(),
            _ => items,
        }
    }

    /// Images that may be shown (cheap: no fit).
    pub fn active_count(&self) -> usize {
        self.session
            .status()
            .iter()
            .enumerate()
            .filter(|&(i, st)| {
                *st == Status::Active && matches!(self.files[i], FileState::Ok { .. })
            })
            .count()
    }

    /// Effective comparisons.
    pub fn comparisons(&self) -> usize {
        self.comparisons
    }

    /// Comparisons the current mode plans: all pairs for the original list, n − 1 for
    /// elimination, 10 per image for the others.
    pub fn planned(&self) -> usize {
        let n = self.session.active_items().len();
        match self.mode_name {
            ModeName::Original => n * n.saturating_sub(1) / 2,
            ModeName::Elimination => n.saturating_sub(1),
            ModeName::Active | ModeName::Random => 5 * n,
        }
    }

    /// The mode's name.
    pub fn mode_name(&self) -> &'static str {
        self.mode_name.as_str()
    }

    /// Whether the original mode auto-shuffles.
    pub fn auto_shuffle(&self) -> bool {
        self.auto_shuffle
    }

    /// The model prior in effect, if any.
    pub fn prior(&self) -> Option<&ModelPrior> {
        self.prior.as_ref()
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Image paths by index.
    pub fn images(&self) -> &[String] {
        &self.images
    }

    /// Each image's file state.
    pub fn files(&self) -> &[FileState] {
        &self.files
    }

    /// The log.
    pub fn log(&self) -> &[Record] {
        &self.log
    }

    /// Every image with its ratings, best first by the fitted score (`fit_mu`, the posterior
    /// fitted to convergence), ties by index; `mu`/`sigma` are the online TrueSkill values the
    /// original app showed.
    pub fn rankings(&mut self) -> Vec<ImageRow> {
        let fit = self.fit().to_vec();
        let s = &self.session;
        let prior_score = |i: usize| {
            self.prior
                .as_ref()
                .and_then(|p| p.scores.get(&self.images[i]).copied())
        };
        let mut rows: Vec<ImageRow> = (0..self.images.len())
            .map(|i| {
                let r = s.ratings()[i];
                let state = match (&self.files[i], s.status()[i]) {
                    (_, Status::Removed) => "removed",
                    (FileState::Unreadable(_), _) => "unreadable",
                    (FileState::Missing, _) => "missing",
                    (_, Status::Excluded) => "excluded",
                    (_, Status::Active) => "active",
                };
                ImageRow {
                    id: i,
                    name: self.images[i].clone(),
                    url: format!("/img/{i}"),
                    thumb: format!("/thumb/{i}"),
                    mu: r.mu,
                    sigma: r.sigma,
                    conservative: r.conservative(),
                    fit_mu: fit[i].0,
                    fit_sigma: fit[i].1,
                    fit_conservative: fit[i].0 - 3.0 * fit[i].1,
                    prior_score: prior_score(i),
                    prior_mu: prior_score(i).map(|_| self.priors[i].mu),
                    prior_sigma: prior_score(i).map(|_| self.priors[i].sigma),
                    comparisons: s.counts()[i],
                    up: s.upvotes()[i],
                    down: s.downvotes()[i],
                    state: state.into(),
                }
            })
            .collect();
        rows.sort_by(|a, b| b.fit_mu.total_cmp(&a.fit_mu).then(a.id.cmp(&b.id)));
        rows
    }

    /// TrueSkill's model fitted to the votes in effect, from scratch and to convergence: a
    /// function of those votes alone (a live session and the same session reopened agree to
    /// the last bit), cached until the log grows.
    fn fit(&mut self) -> &[(f64, f64)] {
        let stamp = self.log.len();
        if self.fitted.as_ref().is_none_or(|(at, _)| *at != stamp) {
            let n = self.images.len();
            let mut p = Posterior::with_priors(&self.settings.env, &self.priors);
            for o in self.session.history() {
                match o {
                    Outcome::Win { winner, loser } => p.add(*winner, *loser, false),
                    Outcome::Draw { a, b } => p.add(*a, *b, true),
                    Outcome::BestOf { winner, others } => {
                        for &l in others {
                            p.add(*winner, l, false);
                        }
                    }
                }
            }
            p.converge(1e-9, 200);
            let fit = (0..n).map(|i| (p.mean(i), p.variance(i).sqrt())).collect();
            self.fitted = Some((stamp, fit));
        }
        &self.fitted.as_ref().expect("fitted above").1
    }

    /// The real path of image `id`, if it may be served (listed, readable, still inside the
    /// folder).
    pub fn file(&self, id: usize) -> Option<PathBuf> {
        if !matches!(self.files.get(id)?, FileState::Ok { .. }) {
            return None;
        }
        folder::resolve(&self.settings.root, self.images.get(id)?)
    }

    /// Replays a comparisons CSV (`Winner,Loser`; `None,<img>` removes an image), appending or
    /// replacing. Returns (imported, skipped rows).
    pub fn import(
        &mut self,
        csv_text: &str,
        replace: bool,
        rater: &str,
    ) -> Result<(usize, usize), AppError> {
        let by_name: HashMap<&str, usize> = self
            .images
            .iter()
            .enumerate()
            .map(|(i, p)| (p.as_str(), i))
            .collect();
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(csv_text.as_bytes());
        let mut events = Vec::new();
        let mut skipped = 0;
        for (line, rec) in rdr.records().enumerate() {
            let Ok(rec) = rec else {
                skipped += 1;
                continue;
            };
            let (w, l) = (
                rec.get(0).unwrap_or("").trim(),
                rec.get(1).unwrap_or("").trim(),
            );
            let id = |n: &str| by_name.get(n).copied();
            match (w, id(w), id(l)) {
                ("None", _, Some(l)) => events.push(Event::Remove { image: l }),
                (_, Some(w), Some(l)) if w != l => events.push(Event::Vote {
                    items: vec![w, l],
                    winner: Some(w),
                }),
                _ => {
                    tracing::warn!(
                        "import line {}: `{w},{l}`: unknown image; skipped",
                        line + 2
                    );
                    skipped += 1;
                }
            }
        }
        let imported = events.len();
        let stamp = now();
        let batch: Vec<(Option<String>, Event)> = replace
            .then_some((None, Event::Reset))
            .into_iter()
            .chain(events.into_iter().enumerate().map(|(k, e)| {
                let uid = matches!(e, Event::Vote { .. }).then(|| format!("import-{stamp}-{k}"));
                (uid, e)
            }))
            .collect();
        let added = self.store.append_all(&batch, rater, stamp)?;
        self.log.extend(added);
        self.rebuild();
        Ok((imported, skipped))
    }

    /// Comparisons CSV in the original app's format: `Winner,Loser` per pairwise result (a
    /// best-of-four vote gives one row per image it beat), `None,<img>` where an image was
    /// removed.
    pub fn comparisons_csv(&self) -> String {
        let mut out = String::from("Winner,Loser\n");
        for r in self.effective_log() {
            match &r.event {
                Event::Vote {
                    items,
                    winner: Some(w),
                } => {
                    for &l in items.iter().filter(|&&i| i != *w) {
                        out.push_str(&format!(
                            "{},{}\n",
                            csv_field(&self.images[*w]),
                            csv_field(&self.images[l])
                        ));
                    }
                }
                Event::Remove { image } => {
                    out.push_str(&format!("None,{}\n", csv_field(&self.images[*image])))
                }
                _ => {}
            }
        }
        out
    }

    /// Every vote in effect and every removal, oldest first, with rater and time.
    pub fn effective_log(&self) -> Vec<&Record> {
        let undone = self.undone();
        let start = self
            .log
            .iter()
            .rposition(|r| matches!(r.event, Event::StartOver | Event::Reset))
            .map_or(0, |p| p + 1);
        self.log[start..]
            .iter()
            .filter(|r| match r.event {
                Event::Vote { winner, .. } => winner.is_some() && !undone.contains(&r.seq),
                Event::Remove { .. } => true,
                _ => false,
            })
            .collect()
    }

    /// Rankings CSV: the original app's five columns first (`Image,ELO,Uncertainty,Upvotes,
    /// Downvotes`, so image-ranker reads it), then `Comparisons`, the fitted score, its sd and
    /// conservative score, and the online TrueSkill mean and sd. `ELO`/`Uncertainty` and the
    /// row order are the fitted score (`Score::Fit`, what the page ranks by) or the online
    /// TrueSkill values (`Score::Online`, image-ranker's own export).
    pub fn rankings_csv(&mut self, score: Score) -> String {
        let mut rows: Vec<ImageRow> = self
            .rankings()
            .into_iter()
            .filter(|r| r.state != "removed")
            .collect();
        if score == Score::Online {
            rows.sort_by(|a, b| b.mu.total_cmp(&a.mu).then(a.id.cmp(&b.id)));
        }
        let mut out = String::from(
            "Image,ELO,Uncertainty,Upvotes,Downvotes,Comparisons,FitMu,FitSigma,FitConservative,OnlineMu,OnlineSigma\n",
        );
        for r in &rows {
            let (elo, sd) = match score {
                Score::Fit => (r.fit_mu, r.fit_sigma),
                Score::Online => (r.mu, r.sigma),
            };
            out.push_str(&format!(
                "{},{elo},{sd},{},{},{},{},{},{},{},{}\n",
                csv_field(&r.name),
                r.up,
                r.down,
                r.comparisons,
                r.fit_mu,
                r.fit_sigma,
                r.fit_conservative,
                r.mu,
                r.sigma
            ));
        }
        out
    }

    /// A training manifest: `path,target,weight,sigma,comparisons` for every ranked image
    /// (compared at least once and not removed). `target` is the fitted mean (TrueSkill's model
    /// fitted to all votes at once, independent of their order), or mean − 3σ; `weight` is its
    /// precision 1/σ² scaled to mean 1.
    pub fn manifest_csv(&mut self, conservative: bool) -> String {
        let rows: Vec<ImageRow> = self
            .rankings()
            .into_iter()
            .filter(|r| r.comparisons > 0 && r.state != "removed")
            .collect();
        let precision: Vec<f64> = rows
            .iter()
            .map(|r| 1.0 / (r.fit_sigma * r.fit_sigma))
            .collect();
        let mean = precision.iter().sum::<f64>() / precision.len().max(1) as f64;
        let root = self
            .settings
            .root
            .canonicalize()
            .unwrap_or(self.settings.root.clone());
        let mut out = String::from("path,target,weight,sigma,comparisons\n");
        for (r, p) in rows.iter().zip(precision) {
            let path = root.join(&r.name);
            out.push_str(&format!(
                "{},{},{},{},{}\n",
                csv_field(&path.display().to_string()),
                if conservative {
                    r.fit_mu - 3.0 * r.fit_sigma
                } else {
                    r.fit_mu
                },
                p / mean,
                r.fit_sigma,
                r.comparisons
            ));
        }
        out
    }
}

/// The outcome a vote means (`None` for a skip).
fn outcome(items: &[usize], winner: Option<usize>) -> Option<Outcome> {
    let w = winner?;
    let others: Vec<usize> = items.iter().copied().filter(|&i| i != w).collect();
    Some(if others.len() == 1 {
        Outcome::Win {
            winner: w,
            loser: others[0],
        }
    } else {
        Outcome::BestOf { winner: w, others }
    })
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Opens a ranker on `root` with the database at `db` (created if missing).
pub fn open_folder(root: &Path, db: &Path, env: TrueSkill, seed: u64) -> Result<Ranker, String> {
    let listed = folder::list(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let store = Store::open(db).map_err(|e| e.to_string())?;
    let settings = Settings {
        root: root.to_owned(),
        env,
        seed,
        prior: None,
    };
    Ranker::open(settings, store, &listed, |p| folder::check(root, p)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(n: usize) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for i in 0..n {
            image::RgbImage::from_pixel(3, 3, image::Rgb([i as u8 * 20, 0, 0]))
                .save(d.path().join(format!("img{i:02}.png")))
                .unwrap();
        }
        d
    }

    fn ranker(d: &Path) -> Ranker {
        open_folder(d, &d.join(".rank.sqlite"), TrueSkill::image_ranker(), 7).unwrap()
    }

    #[test]
    fn a_reopened_session_is_the_same_session() {
        let d = folder(6);
        let mut r = ranker(d.path());
        for k in 0..300 {
            let items = r.next(if k % 5 == 4 { 4 } else { 2 });
            let w = *items.iter().max().unwrap();
            r.vote(
                &format!("v{k}"),
                if k % 2 == 0 { "ann" } else { "bob" },
                &items,
                Some(w),
            )
            .unwrap();
        }
        r.vote("skip", "ann", &[0, 1], None).unwrap();
        assert_eq!(
            r.vote("v3", "bob", &[0, 1], Some(0)).unwrap(),
            300,
            "a retry is not doubled"
        );
        r.undo("ann").unwrap().unwrap();
        r.image_action(2, "remove", "ann").unwrap();
        r.image_action(3, "exclude", "ann").unwrap();
        let before = r.rankings();
        let csv = r.comparisons_csv();
        drop(r);
        let mut r = ranker(d.path());
        let after = r.rankings();
        assert_eq!(
            serde_json::to_string(&before).unwrap(),
            serde_json::to_string(&after).unwrap()
        );
        assert_eq!(r.comparisons_csv(), csv);
        assert!(csv.contains("None,img02.png"));
        // Higher index always won: the ranking follows the index among active images.
        let order: Vec<usize> = after
            .iter()
            .filter(|x| x.state == "active" || x.state == "excluded")
            .map(|x| x.id)
            .collect();
        assert_eq!(order[0], 5);
    }

    #[test]
    fn import_replays_an_export() {
        let d = folder(5);
        let mut a = ranker(d.path());
        for k in 0..12 {
            let items = a.next(2);
            a.vote(&format!("v{k}"), "ann", &items, Some(items[0]))
                .unwrap();
        }
        a.image_action(4, "remove", "ann").unwrap();
        let csv = a.comparisons_csv();
        let e = tempfile::tempdir().unwrap();
        for i in 0..5 {
            std::fs::copy(
                d.path().join(format!("img{i:02}.png")),
                e.path().join(format!("img{i:02}.png")),
            )
            .unwrap();
        }
        let mut b = ranker(e.path());
        b.vote("x", "bob", &[0, 1], Some(1)).unwrap();
        let (imported, skipped) = b.import(&csv, true, "bob").unwrap();
        assert_eq!((imported, skipped), (csv.lines().count() - 1, 0));
        assert_eq!(b.rankings_csv(Score::Fit), a.rankings_csv(Score::Fit));
        assert_eq!(b.rankings_csv(Score::Online), a.rankings_csv(Score::Online));
        let (_, skipped) = b
            .import("Winner,Loser\nnope.png,img00.png\n", false, "bob")
            .unwrap();
        assert_eq!(skipped, 1);
    }

    #[test]
    fn sequential_elimination_ends_with_one_image_left() {
        let d = folder(5);
        let mut r = ranker(d.path());
        r.set_mode(Some("elimination"), None).unwrap();
        let mut votes = 0;
        loop {
            let items = r.next(2);
            if items.is_empty() {
                break;
            }
            r.vote(&format!("e{votes}"), "ann", &items, Some(items[0]))
                .unwrap();
            votes += 1;
            assert!(votes < 50, "never ends");
        }
        assert_eq!(votes, 4, "n - 1 comparisons");
        assert_eq!(r.planned(), 4);
    }

    #[test]
    fn bad_votes_are_refused_with_a_reason() {
        let d = folder(3);
        let mut r = ranker(d.path());
        assert!(r.vote("a", "x", &[0], Some(0)).is_err());
        assert!(r.vote("a", "x", &[0, 0], Some(0)).is_err());
        assert!(r.vote("a", "x", &[0, 9], Some(0)).is_err());
        let e = r.vote("a", "x", &[0, 1], Some(2)).unwrap_err().to_string();
        assert!(e.contains("not shown"), "{e}");
        assert_eq!(r.comparisons(), 0);
        assert!(r.log().is_empty());
    }
}
