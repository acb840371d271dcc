//! Pair-selection modes: deterministic for a seed, valid pairs and groups, no item starved,
//! removed and excluded items never shown.

use rateme_rank::pairing::{
    Active, ActiveConfig, Elimination, NoisySort, Objective, Original, PairingMode, Pivot,
    RandomPairs,
};
use rateme_rank::rng::Rng;
use rateme_rank::session::{Outcome, Session};
use rateme_rank::sim::{probit_vote, truth};
use rateme_rank::trueskill::TrueSkill;

fn modes(seed: u64) -> Vec<Box<dyn PairingMode>> {
    vec![
        Box::new(RandomPairs::new(seed)),
        Box::new(Original::new(seed)),
        Box::new(Original::with_auto_shuffle(seed, None)),
        Box::new(Elimination::new(seed)),
        Box::new(Active::new(seed)),
        Box::new(Active::with_config(
            seed,
            ActiveConfig {
                objective: Objective::Information,
                ..ActiveConfig::default()
            },
        )),
        Box::new(Active::with_config(seed, ActiveConfig::spearman())),
        Box::new(Active::with_config(
            seed,
            ActiveConfig {
                sampled_anchors: true,
                ..ActiveConfig::default()
            },
        )),
        Box::new(NoisySort::new(seed, Pivot::Random)),
        Box::new(NoisySort::new(seed, Pivot::PosteriorMedian)),
    ]
}

/// A simulated rater (probit, noise 0.5) answering `steps` pairs; `every` steps `hook` may
/// change the session (exclude, remove). Returns the pairs shown.
fn drive(
    mode: &mut dyn PairingMode,
    session: &mut Session,
    steps: usize,
    seed: u64,
    mut hook: impl FnMut(usize, &mut Session),
) -> Vec<(usize, usize)> {
    let truth = truth(session.len(), seed);
    let mut rater = Rng::new(seed, &[99]);
    let mut shown = Vec::new();
    for step in 0..steps {
        hook(step, session);
        if mode.reads_posterior() {
            session.refresh_posterior();
        }
        let Some((a, b)) = mode.next_pair(session) else {
            break;
        };
        shown.push((a, b));
        // Every 7th pair is skipped: shown, never answered.
        if step % 7 == 6 {
            mode.skipped(session, &[a, b]);
            continue;
        }
        let outcome = probit_vote(&truth, a, b, 0.5, &mut rater);
        session.record(outcome.clone());
        mode.observe(session, &outcome);
    }
    shown
}

#[test]
fn the_same_seed_gives_the_same_pairs() {
    for (mut a, mut b) in modes(3).into_iter().zip(modes(3)) {
        let mut s1 = Session::new(TrueSkill::image_ranker(), 30);
        let mut s2 = Session::new(TrueSkill::image_ranker(), 30);
        let p1 = drive(a.as_mut(), &mut s1, 120, 5, |_, _| {});
        let p2 = drive(b.as_mut(), &mut s2, 120, 5, |_, _| {});
        assert_eq!(p1, p2, "{}", a.name());
        assert_eq!(p1.len(), 120, "{}", a.name());
    }
    // A different seed gives a different sequence.
    for (mut a, mut b) in modes(3).into_iter().zip(modes(4)) {
        let p1 = drive(
            a.as_mut(),
            &mut Session::new(TrueSkill::image_ranker(), 30),
            60,
            5,
            |_, _| {},
        );
        let p2 = drive(
            b.as_mut(),
            &mut Session::new(TrueSkill::image_ranker(), 30),
            60,
            5,
            |_, _| {},
        );
        assert_ne!(p1, p2, "{}", a.name());
    }
}

#[test]
fn pairs_are_two_distinct_items() {
    for mut mode in modes(1) {
        let mut s = Session::new(TrueSkill::image_ranker(), 25);
        for (a, b) in drive(mode.as_mut(), &mut s, 200, 2, |_, _| {}) {
            assert!(a != b && a < 25 && b < 25, "{}: ({a}, {b})", mode.name());
        }
    }
}

#[test]
fn no_item_is_starved() {
    // 40 items, 10 comparisons per item on average (200 results, plus the skipped pairs).
    for mut mode in modes(7) {
        let mut s = Session::new(TrueSkill::image_ranker(), 40);
        drive(mode.as_mut(), &mut s, 229, 8, |_, _| {});
        let min = *s.counts().iter().min().unwrap();
        assert!(
            min >= 2,
            "{}: an item has {min} comparisons, counts {:?}",
            mode.name(),
            s.counts()
        );
    }
}

/// (times a pair or group was shown right after itself, times one was shown again).
fn repeats(shown: &[Vec<usize>]) -> (usize, usize) {
    let key = |g: &[usize]| {
        let mut g = g.to_vec();
        g.sort_unstable();
        g
    };
    let in_a_row = shown
        .windows(2)
        .filter(|w| key(&w[0]) == key(&w[1]))
        .count();
    let mut seen = std::collections::HashSet::new();
    let again = shown.iter().filter(|g| !seen.insert(key(g))).count();
    (in_a_row, again)
}

#[test]
fn the_active_mode_never_repeats_a_pair_in_a_row_and_rarely_at_all() {
    // 1000 pairs (every 7th skipped) among 100 items: 4950 pairs exist.
    for seed in 0..3 {
        let mut mode = Active::new(seed);
        let mut s = Session::new(TrueSkill::image_ranker(), 100);
        let shown: Vec<Vec<usize>> = drive(&mut mode, &mut s, 1000, seed + 20, |_, _| {})
            .into_iter()
            .map(|(a, b)| vec![a, b])
            .collect();
        let (in_a_row, again) = repeats(&shown);
        assert_eq!(in_a_row, 0, "seed {seed}: a pair shown twice in a row");
        assert!(
            again <= 10,
            "seed {seed}: {again} of 1000 pairs shown again"
        );
    }
    // Groups of four: never the same group twice in a row.
    let mut mode = Active::new(5);
    let mut s = Session::new(TrueSkill::image_ranker(), 30);
    let truth = truth(30, 6);
    let mut groups = Vec::new();
    for _ in 0..300 {
        s.refresh_posterior();
        let g = mode.next_group(&s, 4).unwrap();
        let best = *g
            .iter()
            .max_by(|&&a, &&b| truth[a].total_cmp(&truth[b]))
            .unwrap();
        let o = Outcome::BestOf {
            winner: best,
            others: g.iter().copied().filter(|&i| i != best).collect(),
        };
        s.record(o.clone());
        mode.observe(&s, &o);
        groups.push(g);
    }
    assert_eq!(repeats(&groups).0, 0, "a group shown twice in a row");
}

#[test]
fn active_mode_keeps_counts_close() {
    // The coverage rule: anchors have at most 2 comparisons more than the least compared item,
    // so the least compared item catches up.
    let mut mode = Active::new(11);
    let mut s = Session::new(TrueSkill::image_ranker(), 60);
    drive(&mut mode, &mut s, 700, 12, |_, _| {});
    let min = *s.counts().iter().min().unwrap();
    let mean = s.counts().iter().sum::<u32>() as f64 / 60.0;
    assert!(
        min as f64 >= 0.6 * mean,
        "min {min}, mean {mean}, counts {:?}",
        s.counts()
    );
}

#[test]
fn removed_and_excluded_items_are_never_shown() {
    for mut mode in modes(9) {
        let mut s = Session::new(TrueSkill::image_ranker(), 20);
        let gone = [3usize, 4, 17];
        let shown = drive(mode.as_mut(), &mut s, 150, 10, |step, s| {
            if step == 40 {
                s.exclude(3);
                s.exclude(4);
                s.remove(17);
            }
        });
        for &(a, b) in &shown[40..] {
            assert!(
                !gone.contains(&a) && !gone.contains(&b),
                "{}: ({a}, {b}) after exclusion",
                mode.name()
            );
        }
        assert!(shown.len() > 100, "{}", mode.name());
    }
}

#[test]
fn modes_stop_when_fewer_than_two_items_are_active() {
    for mut mode in modes(2) {
        let mut s = Session::new(TrueSkill::image_ranker(), 3);
        s.exclude(0);
        s.remove(1);
        assert_eq!(mode.next_pair(&s), None, "{}", mode.name());
        assert_eq!(mode.next_group(&s, 2), None, "{}", mode.name());
    }
}

#[test]
fn groups_are_distinct_active_items() {
    for mut mode in modes(5) {
        let mut s = Session::new(TrueSkill::image_ranker(), 12);
        s.exclude(2);
        let truth = truth(12, 6);
        for _ in 0..30 {
            if mode.reads_posterior() {
                s.refresh_posterior();
            }
            let g = mode
                .next_group(&s, 4)
                .unwrap_or_else(|| panic!("{}: no group", mode.name()));
            let mut sorted = g.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), 4, "{}: {g:?}", mode.name());
            assert!(g.iter().all(|&i| s.is_active(i)), "{}: {g:?}", mode.name());
            let best = *g
                .iter()
                .max_by(|&&x, &&y| truth[x].total_cmp(&truth[y]))
                .unwrap();
            let outcome = Outcome::BestOf {
                winner: best,
                others: g.iter().copied().filter(|&i| i != best).collect(),
            };
            s.record(outcome.clone());
            mode.observe(&s, &outcome);
        }
        assert!(
            mode.next_group(&s, 12).is_none(),
            "{}: 12 of 11 active items",
            mode.name()
        );
    }
}

#[test]
fn elimination_removes_the_loser_from_the_round() {
    let mut mode = Elimination::new(1);
    let mut s = Session::new(TrueSkill::image_ranker(), 8);
    let mut losers = Vec::new();
    for _ in 0..7 {
        let (a, b) = mode.next_pair(&s).unwrap();
        assert!(
            !losers.contains(&a) && !losers.contains(&b),
            "a loser came back within the round"
        );
        let o = Outcome::Win {
            winner: a.min(b),
            loser: a.max(b),
        };
        losers.push(a.max(b));
        s.record(o.clone());
        mode.observe(&s, &o);
    }
    assert_eq!(mode.rounds(), 1);
    mode.next_pair(&s).unwrap();
    assert_eq!(mode.rounds(), 2, "one survivor left: a new round starts");
}

#[test]
fn original_mode_starts_with_a_ring_and_never_repeats_a_pair() {
    let n = 10;
    let mut mode = Original::with_auto_shuffle(4, None);
    let s = Session::new(TrueSkill::image_ranker(), n);
    let pairs: Vec<(usize, usize)> = (0..n * (n - 1) / 2)
        .map(|_| mode.next_pair(&s).unwrap())
        .collect();
    // The first n pairs form a ring: every item appears exactly twice.
    let mut degree = vec![0; n];
    for &(a, b) in &pairs[..n] {
        degree[a] += 1;
        degree[b] += 1;
    }
    assert_eq!(degree, vec![2; n]);
    let mut unique: Vec<(usize, usize)> =
        pairs.iter().map(|&(a, b)| (a.min(b), a.max(b))).collect();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), n * (n - 1) / 2, "all pairs once");
}

#[test]
fn smart_shuffle_puts_close_and_little_compared_pairs_first() {
    let n = 6;
    let mut s = Session::new(TrueSkill::image_ranker(), n);
    // 0 beats 1 three times: they are far apart and compared often.
    for _ in 0..3 {
        s.record(Outcome::Win {
            winner: 0,
            loser: 1,
        });
    }
    let mut mode = Original::new(1);
    mode.smart_shuffle(&s);
    let (a, b) = mode.next_pair(&s).unwrap();
    assert!(a >= 2 && b >= 2, "an untouched pair first, got ({a}, {b})");
}
