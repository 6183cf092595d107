"""Alpha's bootstrap interval (bot/digests/rater_agreement.py): each answer's coincidences, resampled with the
period's draws of answers, give each replicate's alpha exactly as computing alpha on the resampled answers would."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bot.digests.agreement import alpha_of, coincidence_matrix, unit_coincidences
from bot.digests.bootstrap import Clusters, grouped_replicates, rng_for, whole
from bot.digests.model import ScaleAlpha
from bot.digests.periods import prepare
from bot.digests.rater_agreement import (
    ALPHA_UNSTABLE,
    CoincidenceColumns,
    _one_scale_sentence,
    _scales_sentence,
    alpha_interval,
    alpha_text,
    coincidence_columns,
    split_replicates,
    upper_triangles,
)
from bot.digests.stats import compute_digest
from tests.digests.test_alpha_scales import rated
from tests.digests.test_stats import answer, rating, rows


def test_one_units_coincidences_by_hand():
    # Values 1, 1, 2 (m = 3): ordered pairs of different coders, each weighted 1 / (m - 1) = 1/2: (1, 1) twice,
    # (1, 2) twice and (2, 1) twice: o_11 = 1, o_12 = o_21 = 1, o_22 = 0. A unit with one value pairs nothing.
    per_unit = unit_coincidences(np.array([[2.0, 1.0], [0.0, 1.0]]))
    assert per_unit[0].tolist() == [[1.0, 1.0], [1.0, 0.0]]
    assert per_unit[1].tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_units_coincidences_add_up_to_the_coincidence_matrix():
    counts = np.random.default_rng(3).integers(0, 4, size=(40, 5)).astype(np.float64)
    assert unit_coincidences(counts).sum(axis=0) == pytest.approx(coincidence_matrix(counts))


def pairwise_alpha(units: list[list[int]]) -> float | None:
    """Ordinal alpha written out from its definition, pair by pair (Krippendorff 2011), independent of agreement.py:
    each ordered pair of two coders' values within a unit adds 1 / (m_u - 1) to its coincidence."""
    units = [unit for unit in units if len(unit) >= 2]
    categories = sorted({value for unit in units for value in unit})
    if not categories:
        return None
    index = {value: i for i, value in enumerate(categories)}
    k = len(categories)
    coincidences = np.zeros((k, k))
    for unit in units:
        for a, b in itertools.permutations(range(len(unit)), 2):
            coincidences[index[unit[a]], index[unit[b]]] += 1 / (len(unit) - 1)
    marginals = coincidences.sum(axis=1)
    n = marginals.sum()
    delta = np.zeros((k, k))
    for c in range(k):
        for d in range(k):
            low, high = min(c, d), max(c, d)
            delta[c, d] = (marginals[low : high + 1].sum() - (marginals[low] + marginals[high]) / 2) ** 2
    expected = (np.outer(marginals, marginals) * delta).sum()
    return None if expected == 0 else float(1 - (n - 1) * (coincidences * delta).sum() / expected)


def test_a_replicates_alpha_is_alpha_of_the_resampled_answers():
    """Draw counts times the answers' coincidences give the alpha of the data with each answer repeated as often as
    it was drawn (each copy a unit of its own), as the pair-by-pair definition computes it."""
    rng = np.random.default_rng(7)
    counts = rng.integers(0, 3, size=(30, 5)).astype(np.float64)
    per_unit = unit_coincidences(counts).reshape(30, -1)
    values = [[value + 1 for value in range(5) for _ in range(int(counts[answer, value]))] for answer in range(30)]
    for _ in range(20):
        drawn = np.bincount(rng.integers(0, 30, 30), minlength=30)
        replicate = float(alpha_of((drawn @ per_unit).reshape(5, 5), np.arange(5.0)))
        expected = pairwise_alpha([values[answer] for answer in range(30) for _ in range(int(drawn[answer]))])
        assert expected is not None
        assert replicate == pytest.approx(expected)


def test_the_digests_interval_is_that_of_the_resampled_ratings():
    """compute_digest's interval of each scale's alpha, rebuilt from scratch: the period's draws of answers (the
    bootstrap's stream "current"; the draws do not depend on how many columns are summed), each replicate's alpha
    from the drawn answers' ratings on that scale pair by pair, and numpy's percentiles. Answers have one to three
    raters, on the 3- or the 5-point scale, and four are rated on both (in neither scale's alpha)."""
    rng = np.random.default_rng(0)
    answers, ratings = [], []
    for i in range(40):
        answers.append(answer(i))
        scale = 3 if i < 25 else 5
        for rater in rng.choice(["a", "b", "c", "d"], int(rng.integers(1, 4)), replace=False).tolist():
            ratings.append(rating(i, rater, int(rng.integers(1, scale + 1)), scale))
    for i in range(40, 44):
        answers.append(answer(i))
        ratings += [rating(i, "a", 2, 3), rating(i, "b", 4, 5), rating(i, "c", 1, 3)]
    data = rows(answers, ratings)
    resamples = 400
    digest = compute_digest(data, None, seed=3, bootstrap=resamples)
    period = prepare(data)
    n = period.answer_ids.size
    (_, draws) = grouped_replicates(period.clusters(), [whole(n)], resamples, rng_for(3, "current"), extra=np.eye(n))
    for entry in digest.disagreement.alpha_by_scale:
        on_scale: list[list[int]] = [[] for _ in range(n)]
        for position in np.flatnonzero(period.scale == entry.scale_size).tolist():
            on_scale[period.rating_index[position]].append(int(period.value[position]))
        assert entry.alpha == pytest.approx(pairwise_alpha(on_scale))
        replicates = [
            pairwise_alpha([on_scale[a] for a in range(n) for _ in range(round(float(draws[r, a])))])
            for r in range(resamples)
        ]
        defined = np.array([value for value in replicates if value is not None])
        assert defined.size >= 0.95 * resamples
        assert (entry.low, entry.high) == pytest.approx(tuple(np.percentile(defined, [2.5, 97.5])), abs=1e-6)


def test_alpha_of_is_nan_where_alpha_is_undefined():
    alike = np.array([[4.0, 0.0], [0.0, 0.0]])  # every pairable value the same
    empty = np.zeros((2, 2))
    assert np.isnan(alpha_of(np.stack([alike, empty]), np.arange(2.0))).all()


def test_extra_columns_are_summed_over_the_same_draws():
    """Resampling an extra column holding each answer's rating count gives, replicate by replicate, the count the
    fit statistics' own bootstrap drew."""
    rng = np.random.default_rng(11)
    n = 50
    counts = rng.integers(1, 6, n).astype(np.float64)
    clusters = Clusters(counts, np.vstack([counts * 0.5, counts * 0.2]))
    overall, extra = grouped_replicates(clusters, [whole(n)], 300, rng_for(5, "t"), extra=counts[:, None])
    assert extra.shape == (300, 1)
    assert extra[:, 0] == pytest.approx(overall[0, 0])
    (alone,) = grouped_replicates(clusters, [whole(n)], 300, rng_for(5, "t"))
    assert alone == pytest.approx(overall)  # the extra columns change no other statistic


def test_float32_replicates_move_alpha_by_far_less_than_it_is_shown_with():
    """The bootstrap sums in float32 (bootstrap.py); at 25,000 answers a replicate's alpha moves by less than 1e-6."""
    rng = np.random.default_rng(1)
    n = 25_000
    counts = rng.multinomial(4, [0.1, 0.15, 0.2, 0.25, 0.3], size=n).astype(np.float64)
    per_unit = unit_coincidences(counts).reshape(n, -1)
    drawn = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(10)]).astype(np.float32)
    single = alpha_of((drawn @ per_unit.astype(np.float32)).astype(np.float64).reshape(-1, 5, 5), np.arange(5.0))
    double = alpha_of((drawn.astype(np.float64) @ per_unit).reshape(-1, 5, 5), np.arange(5.0))
    assert np.abs(single - double).max() < 1e-6


def test_no_interval_when_few_answers_vary():
    """Ten answers whose two ratings agree and one whose ratings differ: alpha is defined, but a third of the
    resamples draw no answer that varies and have none; an interval from the rest would hide that."""
    digest = compute_digest(rows(*rated([(3, 3)] * 10 + [(3, 1)], 3, 0, ("ana", "budi"))), None)
    entry = digest.disagreement.alpha_by_scale[0]
    assert entry.alpha is not None
    assert (entry.low, entry.high, entry.interval) == (None, None, ALPHA_UNSTABLE)
    assert alpha_text(entry) in digest.disagreement.alpha_sentence
    assert "no interval: in more than 5% of resamples the drawn answers' ratings did not vary" in alpha_text(entry)


def test_alpha_interval_of_replicates_without_alpha():
    undefined = np.tile(np.array([[2.0, 0.0], [0.0, 0.0]]), (100, 1, 1))
    assert alpha_interval(undefined, 2) == (None, None, ALPHA_UNSTABLE)
    assert alpha_interval(np.zeros((0, 2, 2)), 2) == (None, None, None)  # no bootstrap, no interval and no reason


def test_a_narrow_interval_inside_one_reading_is_not_called_unsettled():
    """200 answers, 190 of them agreed on: alpha well above 0.8 and its interval too."""
    pairs = [(3, 3)] * 70 + [(2, 2)] * 60 + [(1, 1)] * 60 + [(3, 2)] * 10
    d = compute_digest(rows(*rated(pairs, 3, 0, ("ana", "budi"))), None).disagreement
    assert d.alpha is not None and d.alpha_low is not None and d.alpha_high is not None
    assert 0.8 < d.alpha_low < d.alpha < d.alpha_high <= 1.0
    assert "Reading: members largely agree on how well answers fit." in d.alpha_sentence
    assert "not settled" not in d.alpha_sentence


def test_alpha_text_signs_and_zero():
    entry = ScaleAlpha(3, -0.051, 12, 24, 2, -0.2, 0.004)
    assert alpha_text(entry) == "−0.05 (95% CI −0.20 to 0.00)"
    assert alpha_text(ScaleAlpha(3, -0.001, 12, 24, 2)) == "0.00"


def test_coincidence_columns_hold_each_scales_upper_triangle_and_come_back_whole():
    """A weighted sum of the columns, split back, is the same weighted sum of the answers' full coincidence matrices,
    scale by scale; answers with fewer than two ratings on a scale have zeros there."""
    three = rated([(3, 3), (3, 1), (2, 2)], 3, 0, ("ana", "budi"))
    five = rated([(5, 4), (1, 1)], 5, 10, ("citra", "dewi"))
    answers, ratings = three[0] + five[0] + [answer(20)], three[1] + five[1] + [rating(20, "ana", 2, 3)]
    period = prepare(rows(answers, ratings))
    made = coincidence_columns(period)
    assert made.scale_sizes == (3, 5)
    assert made.columns is not None and made.columns.shape == (6, 6 + 15)
    counts = {3: np.zeros((6, 3)), 5: np.zeros((6, 5))}
    for position in range(period.value.size):
        counts[int(period.scale[position])][period.rating_index[position], period.value[position] - 1] += 1
    weights = np.random.default_rng(2).integers(0, 3, size=(4, 6)).astype(np.float64)
    back = split_replicates(made.scale_sizes, weights @ made.columns)
    for size, by_answer in counts.items():
        assert back[size] == pytest.approx(np.einsum("bu,ukl->bkl", weights, unit_coincidences(by_answer)))
    assert upper_triangles(np.arange(9.0).reshape(3, 3)).tolist() == [0.0, 1.0, 2.0, 4.0, 5.0, 8.0]
    assert coincidence_columns(prepare(rows([answer(1)], [rating(1, "ana", 2, 3)]))) == CoincidenceColumns((), None)


@pytest.mark.parametrize(
    ("low", "high", "unsettled", "chance"),
    [
        (0.80, 0.93, False, False),  # starts at a threshold: alpha >= 0.8 reads "largely agree" all along
        (0.7996, 0.93, False, False),  # shown as 0.80: it does not reach below 0.8 as the reader sees it
        (0.79, 0.93, True, False),
        (0.70, 0.80, True, False),  # ends at 0.8: reaches it
        (0.10, 0.60, False, False),
        (-0.004, 0.60, False, True),  # shown as 0.00
        (-0.20, 0.70, True, True),
    ],
)
def test_the_reading_says_what_the_interval_leaves_open(low, high, unsettled, chance):
    sentence = _one_scale_sentence(ScaleAlpha(3, (low + high) / 2, 40, 80, 5, low, high))
    assert ("so this reading is not settled" in sentence) is unsettled
    assert ("agreement no better than chance is not ruled out" in sentence) is chance


def test_one_resample_gives_no_interval_and_no_reason():
    replicate = np.array([[[2.0, 1.0], [1.0, 2.0]]])
    assert alpha_interval(replicate, 2) == (None, None, None)


def test_two_scales_with_one_reading_say_it_once_and_what_each_interval_leaves_open():
    three = ScaleAlpha(3, 0.34, 70, 363, 23, 0.21, 0.46)
    five = ScaleAlpha(5, 0.15, 19, 114, 21, -0.01, 0.35)
    sentence = _scales_sentence((three, five), 0)
    assert sentence.count("members often judge the same answer differently") == 1
    assert sentence.endswith(
        "Reading: members often judge the same answer differently. For cultural fit this can be real variation "
        "within the community rather than noise: read the split answers and their comments. On the 5-point scale, "
        "its interval includes 0: agreement no better than chance is not ruled out."
    )
