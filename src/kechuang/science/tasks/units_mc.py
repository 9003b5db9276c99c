"""SI-prefix multiple choice (general science LLM suite), generated and labelled synthetic: "How many
<unit> are in one <prefix><unit>?" with four options (A–D), the position of the right one drawn with a
fixed seed. It exercises the OpenAI-compatible chat adapter end to end; it is not a measure of scientific
knowledge. Baselines: always "A", and a seeded random letter."""

from __future__ import annotations

import numpy as np

from kechuang.science.tasks.base import Task, TaskData

PREFIXES = [("kilo", 3), ("mega", 6), ("giga", 9), ("milli", -3), ("micro", -6), ("nano", -9), ("centi", -2),
            ("hecto", 2)]
UNITS = ["metre", "gram", "second", "pascal", "joule", "watt", "volt", "ampere"]
LETTERS = "ABCD"


def _fmt(exp: int) -> str:
    return f"1e{exp}" if exp else "1"


def _load(split: str) -> TaskData:
    rng = np.random.default_rng(20261128)
    prompts, answers, ids = [], [], []
    for prefix, exp in PREFIXES:
        for unit in UNITS:
            wrong = [e for e in (exp - 3, exp + 3, -exp, exp - 1, exp + 1) if e != exp][:3]
            options = [exp, *wrong]
            order = rng.permutation(4)
            shown = [options[i] for i in order]
            right = LETTERS[int(np.flatnonzero(order == 0)[0])]
            prompts.append(f"How many {unit}s are in one {prefix}{unit}? Answer with the letter only.\n"
                           + "\n".join(f"{LETTERS[k]}) {_fmt(e)}" for k, e in enumerate(shown)))
            answers.append(right)
            ids.append(f"{prefix}-{unit}")
    return TaskData(ids, np.array(prompts, dtype=object), np.array(answers, dtype=object))


def always_a(task: Task, data: TaskData) -> np.ndarray:
    """Always answers "A"."""
    return np.array(["A"] * len(data.item_ids), dtype=object)


def random_choice(task: Task, data: TaskData) -> np.ndarray:
    """A seeded random letter."""
    rng = np.random.default_rng(0)
    return np.array([LETTERS[i] for i in rng.integers(0, 4, len(data.item_ids))], dtype=object)


TASK = Task(
    id="si-prefix-mc",
    version="1.0.0",
    title="SI prefixes, multiple choice (synthetic; LLM adapter check)",
    domain="general",
    suite="general-llm",
    description=__doc__ or "",
    source="generated: 8 prefixes × 8 units, option order seed 20261128 (synthetic)",
    licence="CC0-1.0",
    input_spec={"type": "chat prompt", "answer": "one letter A-D"},
    target_spec={"type": "letter"},
    metrics=["mc_accuracy"],
    headline="mc_accuracy",
    higher_is_better=True,
    loader=_load,
    baselines={"baseline-always-a": always_a, "baseline-random-choice": random_choice},
    splits=("test",),
)
