"""How important a memory is to its person, 1-10: rated by the model, or estimated from its embedding.

The paper has the model rate every memory. A small model cannot: Gemma 3
270M said 10 to 767 of 768 memories of a Smallville morning, so reflection
(summed importance past a threshold) fired on nearly everything, and the
ratings were most of the run's model calls. So a run decides once, at its
start, where ratings come from (``cognition.importance``):

- ``model``: the model rates every memory, as in the paper;
- ``embedding``: an estimator over the memory's embedding (which the stream
  computes anyway) rates it, with no model call: ridge regression trained on
  the labelled calibration examples (``importance_examples``);
- ``auto``: the model first rates the calibration examples (choice requests,
  cached and logged like any call); if its ratings follow the labels (Spearman
  rank correlation at least ``AGREEMENT``) the model rates, else the estimator.

The decision and its figures join the run's settings (``Importance.prepare``,
called by the engine once the log is open), and each memory row says which
source rated it. A resumed or forked run gets the calibration answers from the
cache, so it decides the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from agentville.sim.core import retrieval
from agentville.sim.generation import ChoiceRequest, derive_seed

from .importance_examples import CALIBRATION, HELD_OUT
from .stream import IMPORTANCE_OPTIONS, importance_prompt

if TYPE_CHECKING:
    from agentville.sim.context.protocols import LanguageModel

SETTINGS = ("auto", "model", "embedding")
AGREEMENT = 0.5
"""The rank correlation with the labels a model's ratings need for ``auto`` to let the model rate.

Chance gives about 0 +- 0.15 over the 44 calibration examples (1/sqrt(n-1)),
so 0.5 is over three standard errors above it: a model that reaches it orders
memories by importance, not by accident, and keeps the paper's design (the
model reads each memory for the person). A model that says 10 to everything
has no rank order at all (correlation 0). Below 0.5 the model ranks these
memories clearly worse than the estimator does on examples it never saw
(held-out 0.8 with all-MiniLM-L6-v2, 0.7 with the hashing embedder).
"""
PURPOSE = "importance_calibration"
RATER = "someone who lives in a small town and knows the people in it"  # the person of the calibration prompts
ALPHAS = (0.03, 0.1, 0.3, 1.0, 3.0)  # ridge penalties tried; the best by leave-one-out rank correlation


def spearman(a: Any, b: Any) -> float:
    """Spearman's rank correlation (ties share their mean rank); 0 where it is undefined (a constant side)."""
    ra, rb = _ranks(a), _ranks(b)
    if len(ra) < 2 or np.ptp(ra) == 0 or np.ptp(rb) == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(values: Any) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=np.float64)
    for value in np.unique(values):
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def _directions(vectors: np.ndarray) -> np.ndarray:
    """Unit rows from the whole-number vectors the stream keeps (``retrieval.quantized``), the same on any CPU."""
    rows = [retrieval.quantized(v) for v in np.asarray(vectors)]
    return np.stack([q / (retrieval.exact_norm(q) or 1.0) for q in rows])


class _Ridge:
    """Ridge regression with an unpenalised offset, over fewer examples than dimensions (so in their space).

    One eigendecomposition of the examples' centred Gram matrix serves every
    penalty, and each example's left-out prediction comes from the hat matrix
    (exact for penalised least squares), so choosing the penalty costs a few
    small matrix products, not a fit per example and penalty.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray):
        self.mean, self.y = x.mean(axis=0), y
        self.centred = x - self.mean
        self.values, self.vectors = np.linalg.eigh(self.centred @ self.centred.T)
        self.values = np.clip(self.values, 0.0, None)

    def left_out(self, alpha: float) -> np.ndarray:
        """Each example's prediction by the regression trained on all the others."""
        n, y = len(self.y), self.y
        hat = (self.vectors * (self.values / (self.values + alpha))) @ self.vectors.T + 1.0 / n
        residual = y - hat @ y
        return y - residual / (1.0 - np.diag(hat))

    def fit(self, alpha: float) -> tuple[np.ndarray, float]:
        """Weights and offset trained on all the examples."""
        dual = (self.vectors / (self.values + alpha)) @ (self.vectors.T @ (self.y - self.y.mean()))
        weights = self.centred.T @ dual
        return weights, float(self.y.mean() - self.mean @ weights)


@dataclass(frozen=True)
class Estimator:
    """Importance from an embedding: a ridge regression's score, stretched back to the labels' scale, rounded.

    Ridge pulls predictions towards the mean, so rounded they would be nearly
    all 3 or 4; the stretch (a line fitted from each calibration example's
    left-out prediction to its label) restores the spread, and the rank order
    is the regression's. The weights are kept as whole numbers and applied as
    exact integer dot products, so a rating does not depend on the CPU.
    """

    weights: np.ndarray  # ``retrieval.quantized`` ridge weights
    scale: float  # one unit of ``weights``, times the stretch
    offset: float
    alpha: float

    @classmethod
    def train(cls, vectors: np.ndarray, labels: Any) -> Estimator:
        y = np.asarray(labels, dtype=np.float64)
        ridge = _Ridge(_directions(vectors), y)
        alpha = max(ALPHAS, key=lambda a: spearman(ridge.left_out(a), y))  # the first of equals
        predicted = ridge.left_out(alpha)
        slope, intercept = np.polyfit(predicted, y, 1) if np.ptp(predicted) > 0 else (0.0, float(y.mean()))
        slope = max(float(slope), 0.0)  # an estimator that ranks backwards rates everything alike
        weights, offset = ridge.fit(alpha)
        top = float(np.max(np.abs(weights))) or 1.0
        return cls(weights=retrieval.quantized(weights), scale=float(f"{slope * top / retrieval.QUANTUM:.9g}"),
                   offset=float(f"{intercept + slope * offset:.9g}"), alpha=alpha)

    def rate(self, vectors: np.ndarray) -> list[int]:
        """Ratings 1-10 of embeddings (one per row)."""
        rated = []
        for vector in np.asarray(vectors):
            q = retrieval.quantized(vector)
            score = float(q @ self.weights) / (retrieval.exact_norm(q) or 1.0)
            rated.append(int(min(10, max(1, np.rint(self.offset + self.scale * score)))))
        return rated


class Importance:
    """One run's importance: where ratings come from, decided once (``prepare``), shared by its agents."""

    def __init__(self, setting: str = "auto", *, understands: bool = True):
        """``understands``: the backend's answers follow the prompts' meaning (``Traits.understands``).

        A rule-based test double (the fake) does not read what it rates: calibrating it
        measures nothing, so under ``auto`` its own ratings stand (its rules are part of
        what the tests exercise). A replay keeps the replayed backend's traits, so it decides the same.
        """
        if setting not in SETTINGS:
            raise ValueError(f"importance must be one of {SETTINGS}, not {setting!r}")
        self.setting = setting
        self.source: str | None = None if setting == "auto" else setting  # "model" or "embedding"
        if setting == "auto" and not understands:
            self.source = "model"
        self._estimator: Estimator | None = None

    def prepare(self, llm: LanguageModel) -> dict[str, Any]:
        """Decide the source (``auto``: the model rates the calibration examples first); what the run records.

        ``importance_agreement``: how the model's ratings of the examples follow
        their labels (``auto`` only); ``importance_estimator_rho``: how the
        estimator's follow the held-out examples' (when it rates).
        """
        found: dict[str, Any] = {}
        if self.setting == "auto" and self.source == "model":
            found["importance_calibration"] = "skipped: a rule-based backend keeps its own ratings"
        elif self.setting == "auto":
            found["importance_agreement"] = round(calibrate(llm), 3)
            self.source = "model" if found["importance_agreement"] >= AGREEMENT else "embedding"
        found["importance_source"] = self.source
        if self.source == "embedding":
            held_out = self.estimator(llm).rate(llm.embed([text for _, text in HELD_OUT]))
            found["importance_estimator_rho"] = round(spearman(held_out, [label for label, _ in HELD_OUT]), 3)
        return found

    @property
    def by_model(self) -> bool:
        """Whether the model rates each memory (else the estimator does)."""
        if self.source is None:
            raise RuntimeError("importance 'auto' is decided when the run starts (Importance.prepare), "
                               "which has not happened")
        return self.source == "model"

    def estimator(self, llm: LanguageModel) -> Estimator:
        """The estimator, trained on the calibration examples' embeddings by this run's embedder (once)."""
        if self._estimator is None:
            self._estimator = Estimator.train(llm.embed([text for _, text in CALIBRATION]),
                                              [label for label, _ in CALIBRATION])
        return self._estimator


def calibrate(llm: LanguageModel) -> float:
    """The model rates the calibration examples; the rank correlation of its ratings with their labels.

    First one example of each label (asked together, so they batch): a model
    that gives them all the same rating, from an idle stove to a house burned
    down, ranks nothing (correlation 0), and the other examples are not asked
    (Gemma 3 270M's case: 10 requests instead of 44, about a minute less on a
    laptop CPU). Otherwise the rest are asked together and all count.

    Each is seeded by the example's number alone, not the run's seed or call
    counts: asking changes no other request, and it measures the model, not
    the run, so every later run of the model in the same store finds the
    answers cached.
    """
    numbered = list(enumerate(CALIBRATION))
    firsts: dict[int, int] = {}  # label -> the number of its first example
    for number, (label, _) in numbered:
        firsts.setdefault(label, number)
    answers = _ratings(llm, [numbered[n] for n in sorted(firsts.values())])
    if len(set(answers.values())) > 1:
        answers |= _ratings(llm, [item for item in numbered if item[0] not in answers])
    return spearman([answers[n] for n, _ in numbered if n in answers],
                    [label for n, (label, _) in numbered if n in answers])


def _ratings(llm: LanguageModel, examples: list[tuple[int, tuple[int, str]]]) -> dict[int, int]:
    """The model's ratings of numbered examples, asked all at once (logged and cached like any call)."""
    requests = [ChoiceRequest(prompt=importance_prompt(RATER, text), options=IMPORTANCE_OPTIONS,
                              seed=derive_seed(PURPOSE, number), purpose=PURPOSE, agent=None, default="3")
                for number, (_, text) in examples]
    return {number: int(answer) for (number, _), answer in zip(examples, llm.answer_now(requests), strict=True)}
