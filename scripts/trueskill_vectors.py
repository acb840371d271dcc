"""Test vectors for rateme-rank's TrueSkill, computed with Python `trueskill` 0.4.5.

Run through scripts/trueskill-vectors.sh (it installs the pinned package). Writes one JSON file:
environments, `rate` cases (teams of (mu, sigma), ranks, optional weights, expected ratings),
`quality` cases, and `sequences` (many 1 vs 1 games in a row, as the ranking app plays them).

Cases follow trueskill's own test suite (trueskilltest.py: 1 vs 1 win and draw, n vs n, 1 vs n,
free-for-all with and without draws, several teams, upsets, partial play, the Microsoft Research
example, issue #3/#4), repeated where they use default ratings in the original image-ranker
app's environment (mu 0, sigma 8.33), plus best-of-four matches (one winner, three tied) and
seeded random matches. Where the default backend raises FloatingPointError (issue #5), the
expected values come from its `mpmath` backend instead and carry "backend": "mpmath". Every
`rate` case also has "exact": the same match through the `mpmath` backend (accurate normal
cdf/pdf), for cases where the default backend's own approximation error exceeds 1e-6.
"""

import json
import random
import sys

import trueskill
from trueskill import Rating, TrueSkill

assert trueskill.__version__ == "0.4.5", trueskill.__version__

ENVS = {
    "default": dict(mu=25.0, sigma=25.0 / 3, beta=25.0 / 6, tau=25.0 / 300, draw_probability=0.10),
    "image_ranker": dict(mu=0.0, sigma=8.33, beta=25.0 / 6, tau=25.0 / 300, draw_probability=0.10),
    "draw_50": dict(mu=25.0, sigma=25.0 / 3, beta=25.0 / 6, tau=25.0 / 300, draw_probability=0.50),
    "custom": dict(mu=0.0, sigma=1.0, beta=0.5, tau=0.01, draw_probability=0.05),
}


def env(name, backend=None):
    return TrueSkill(backend=backend, **ENVS[name])


def groups(teams):
    return [tuple(Rating(mu, sigma) for mu, sigma in team) for team in teams]


def plain(rated):
    return [[[float(r.mu), float(r.sigma)] for r in team] for team in rated]


rate_cases = []
quality_cases = []


def add_rate(name, env_name, teams, ranks=None, weights=None, backend=None):
    ranks = list(range(len(teams))) if ranks is None else ranks
    rated = env(env_name, backend).rate(groups(teams), ranks, weights=weights)
    exact = env(env_name, "mpmath").rate(groups(teams), ranks, weights=weights)
    rate_cases.append(dict(name=name, env=env_name, backend=backend or "default", teams=teams,
                           ranks=ranks, weights=weights, expected=plain(rated), exact=plain(exact)))


def add_quality(name, env_name, teams, weights=None):
    q = env(env_name).quality(groups(teams), weights=weights)
    quality_cases.append(dict(name=name, env=env_name, teams=teams, weights=weights, expected=q))


def fresh(env_name, sizes):
    p = ENVS[env_name]
    return [[[p["mu"], p["sigma"]] for _ in range(size)] for size in sizes]


# -- cases of trueskilltest.py that use default ratings: in every environment ---------------
for e in ENVS:
    for sizes in ([1, 1], [2, 2], [4, 4], [1, 2], [1, 3], [1, 7], [1, 2, 1]):
        tag = "v".join(map(str, sizes))
        add_quality(f"{e}/n_vs_n_quality_{tag}", e, fresh(e, sizes))
        add_rate(f"{e}/win_{tag}", e, fresh(e, sizes))
        if len(sizes) == 2 and sizes != [1, 7]:
            add_rate(f"{e}/draw_{tag}", e, fresh(e, sizes), [0, 0])
    for n in (3, 4, 5, 8, 16):
        add_quality(f"{e}/ffa_quality_{n}", e, fresh(e, [1] * n))
        add_rate(f"{e}/ffa_{n}", e, fresh(e, [1] * n))
        add_rate(f"{e}/ffa_all_draw_{n}", e, fresh(e, [1] * n), [0] * n)
    add_rate(f"{e}/unsorted_groups", e, fresh(e, [1, 1, 1]), [2, 1, 0])
    # Best of four: one winner, the other three tied second, the winner in each position.
    for w in range(4):
        ranks = [1] * 4
        ranks[w] = 0
        add_rate(f"{e}/best_of_four_fresh_winner{w}", e, fresh(e, [1] * 4), ranks)
    # Partial play.
    for weights in ([[1], [1, 1]], [[0.5], [0.5, 0.5]], [[1], [0, 1]], [[1], [0.5, 1]]):
        add_rate(f"{e}/partial_play_{weights}", e, fresh(e, [1, 2]), weights=weights)
    for weights in ([[1], [0.25, 0.75], [1]], [[1], [0.8, 0.9], [1]]):
        add_quality(f"{e}/partial_play_quality_{weights}", e, fresh(e, [1, 2, 1]), weights)

# -- cases with explicit ratings (the default environment, and shifted onto the app's scale) -
EXPLICIT = [
    ("multiple_teams_2v4v2", [[[40, 4], [45, 3]], [[20, 7], [19, 6], [30, 9], [10, 4]], [[50, 5], [30, 2]]],
     [[0, 1, 1]]),
    ("upset_1v1", [[[25, 25 / 3]], [[50, 12.5]]], [[0, 0], [0, 1], [1, 0]]),
    ("upset_2v2", [[[20, 8], [25, 6]], [[35, 7], [40, 5]]], [[0, 1], [1, 0], [0, 0]]),
    ("upset_3v2", [[[28, 7], [27, 6], [26, 5]], [[30, 4], [31, 3]]], [[0, 1], [1, 0]]),
    ("upset_8_players", [[[10, 8]], [[15, 7]], [[20, 6]], [[25, 5]], [[30, 4]], [[35, 3]], [[40, 2]], [[45, 1]]],
     [list(range(8)), [0, 1, 1, 2, 2, 2, 3, 3]]),
    ("issue3_case1", [[[42.234, 3.728], [43.290, 3.842]], [[16.667, 0.500]] * 15], [[6, 5]]),
    ("issue3_case2", [[[25.0, 0.5]] * 4 + [[33.333, 0.5]] * 4 + [[41.667, 0.5]] * 4, [[42.234, 3.728], [43.291, 3.842]]],
     [[0, 28]]),
    ("issue4", [[[105.247, 0.439]], [[27.030, 0.901]]], [[0, 1]]),
    ("best_of_four_mixed", [[[20, 3]], [[28, 6]], [[25, 1]], [[31, 8]]], [[0, 1, 1, 1], [1, 1, 0, 1], [1, 1, 1, 0]]),
]
for name, teams, rank_list in EXPLICIT:
    add_quality(f"default/{name}_quality", "default", teams)
    for ranks in rank_list:
        add_rate(f"default/{name}_ranks{ranks}", "default", teams, ranks)
        shifted = [[[mu - 25.0, sigma] for mu, sigma in team] for team in teams]
        add_rate(f"image_ranker/{name}_ranks{ranks}", "image_ranker", shifted, ranks)

ms = [[[25, 25 / 3]]] * 8
add_rate("default/microsoft_research_example", "default", ms)

# -- quality of two players ------------------------------------------------------------------
for a, b in ([[30, 3], [20, 2]], [[25, 25 / 3], [50, 12.5]], [[0, 8.33], [4, 2]], [[-323.263, 2.965], [-48.441, 2.190]]):
    add_quality(f"default/quality_1vs1_{a}_{b}", "default", [[a], [b]])

# -- where the default backend fails (issue #5): expected values from mpmath --------------------
for name, teams in (("issue5_case1", [[[-323.263, 2.965]], [[-48.441, 2.190]]]),
                    ("issue5_case2", [[[25, 25 / 3]], [[1000, 25 / 3]]])):
    try:
        add_rate(f"default/{name}", "default", teams)
        raise AssertionError(f"{name} was expected to fail with the default backend")
    except FloatingPointError:
        pass
    add_rate(f"default/{name}", "default", teams, backend="mpmath")

# -- seeded random matches: teams of 1 to 3, 2 to 6 teams, random ranks with ties ------------
rng = random.Random(20240611)
for e in ("default", "image_ranker", "custom"):
    p = ENVS[e]
    for i in range(40):
        n_teams = rng.randint(2, 6)
        sizes = [rng.choice([1, 1, 1, 2, 3]) for _ in range(n_teams)]
        teams = [[[p["mu"] + rng.gauss(0, p["sigma"]), p["sigma"] * rng.uniform(0.1, 1.2)] for _ in range(s)]
                 for s in sizes]
        ranks = [rng.randint(0, n_teams - 1) for _ in range(n_teams)]
        add_quality(f"{e}/random_quality_{i}", e, teams)
        try:
            add_rate(f"{e}/random_{i}", e, teams, ranks)
        except FloatingPointError:
            add_rate(f"{e}/random_{i}", e, teams, ranks, backend="mpmath")

# -- sequences of 1 vs 1 games, as the app plays them (each result feeds the next) ------------
sequences = []
for e in ("default", "image_ranker"):
    for seed in (1, 2):
        rng = random.Random(seed)
        n = 12
        truth = [rng.gauss(0, 1) for _ in range(n)]
        ratings = [env(e).create_rating() for _ in range(n)]
        games = []
        for _ in range(150):
            a, b = rng.sample(range(n), 2)
            drawn = rng.random() < 0.05
            if not drawn and truth[a] + rng.gauss(0, 0.5) < truth[b]:
                a, b = b, a
            ratings[a], ratings[b] = trueskill.rate_1vs1(ratings[a], ratings[b], drawn=drawn, env=env(e))
            games.append([a, b, drawn])
        sequences.append(dict(name=f"{e}/sequence_seed{seed}", env=e, players=n, games=games,
                              expected=[[r.mu, r.sigma] for r in ratings]))

# One case per line: compact, and a regenerated file diffs case by case.
doc = dict(generator="scripts/trueskill_vectors.py", trueskill=trueskill.__version__, envs=ENVS,
           rate=rate_cases, quality=quality_cases, sequences=sequences)
with open(sys.argv[1], "w") as f:
    f.write("{\n")
    for k, (key, value) in enumerate(doc.items()):
        sep = "," if k + 1 < len(doc) else ""
        if isinstance(value, list):
            f.write(f"{json.dumps(key)}: [\n")
            f.write(",\n".join(json.dumps(case, separators=(",", ":")) for case in value))
            f.write(f"\n]{sep}\n")
        else:
            f.write(f"{json.dumps(key)}: {json.dumps(value)}{sep}\n")
    f.write("}\n")
print(f"{len(rate_cases)} rate, {len(quality_cases)} quality, {len(sequences)} sequence cases", file=sys.stderr)
