"""What a built-in evaluation task is: data version + split + input/target spec + metrics + baselines."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from kechuang.science.metrics import Evaluation, evaluate


@dataclass
class TaskData:
    """One split: item ids, model inputs, targets (first axis = items) and extra context (e.g. time axes)."""

    item_ids: list[str]
    inputs: np.ndarray
    targets: np.ndarray
    context: dict[str, Any] = field(default_factory=dict)


Predictor = Callable[["Task", TaskData], np.ndarray]


@dataclass
class Task:
    """A built-in task. ``version`` changes whenever data, split or scoring change; ``content_hash`` is the
    SHA-256 of the data of every split, so a run can prove which data it saw."""

    id: str
    version: str
    title: str
    domain: str  # weather | life | matter | general
    suite: str
    description: str
    source: str  # where the data come from (package, generator and its parameters)
    licence: str
    input_spec: dict[str, Any]
    target_spec: dict[str, Any]
    metrics: list[str]
    headline: str
    higher_is_better: bool
    loader: Callable[[str], TaskData]
    baselines: dict[str, Predictor]
    split: str = "test"
    splits: tuple[str, ...] = ("train", "test")
    bound: float | None = None  # |prediction| above this counts as exploding
    scorer: Callable[[Task, TaskData, np.ndarray], Evaluation] | None = None
    tier: str = "standard"  # "slow": registered and run only on request (``science seed --slow``)
    # Metadata of the task's data as a registered dataset (Croissant/DataCite fields; files are written by
    # ``table``); None for tasks whose data are not registered as a dataset.
    dataset: dict[str, Any] | None = None
    _cache: dict[str, TaskData] = field(default_factory=dict, repr=False)

    def load(self, split: str | None = None) -> TaskData:
        """The data of ``split`` (default: the evaluation split), generated or read once per process."""
        split = split or self.split
        if split not in self._cache:
            self._cache[split] = self.loader(split)
        return self._cache[split]

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 over every split's ids, inputs and targets (rounded to 1e-10 to be platform-stable)."""
        h = hashlib.sha256()
        for split in self.splits:
            d = self.load(split)
            h.update(split.encode())
            h.update("\n".join(d.item_ids).encode())
            for a in (d.inputs, d.targets):
                h.update(str(a.shape).encode())
                if np.asarray(a).dtype.kind in "OUS":  # text items (prompts, answers)
                    h.update("\x1f".join(map(str, np.asarray(a).ravel())).encode())
                else:
                    h.update(np.ascontiguousarray(np.round(np.asarray(a, dtype=np.float64), 10)).tobytes())
        return h.hexdigest()

    def score(self, data: TaskData, predictions: np.ndarray, seed: int = 0) -> Evaluation:
        """Score ``predictions`` for ``data`` (counts of non-finite/exploding items included)."""
        if self.scorer is not None:
            return self.scorer(self, data, predictions)
        return evaluate(self.metrics, data.targets, predictions, bound=self.bound, seed=seed)

    def table(self, split: str) -> tuple[list[str], list[list[Any]]]:
        """One split as a table (header, rows): item id, input columns, target — what the registered
        dataset's CSV file holds. Column names: ``context["input_columns"]`` or ``input_spec["columns"]``."""
        d = self.load(split)
        inputs = np.asarray(d.inputs)
        inputs = inputs.reshape(len(d.item_ids), -1) if inputs.ndim != 1 else inputs[:, None]
        names = d.context.get("input_columns") or self.input_spec.get("columns") or [
            f"x{i}" for i in range(inputs.shape[1])]
        target = self.target_spec.get("column", "target")
        labels = self.target_spec.get("classes")
        rows = []
        for i, item in enumerate(d.item_ids):
            y = d.targets[i]
            rows.append([item, *inputs[i].tolist(), labels[int(y)] if labels else float(y)])
        return ["item_id", *names, target], rows

    def describe(self) -> dict[str, Any]:
        """Metadata as a JSON-able dict (what the database row and the CLI show)."""
        return {"id": self.id, "version": self.version, "title": self.title, "domain": self.domain,
                "suite": self.suite, "description": self.description, "source": self.source,
                "licence": self.licence, "split": self.split, "input_spec": self.input_spec,
                "target_spec": self.target_spec, "metrics": self.metrics, "headline": self.headline,
                "higher_is_better": self.higher_is_better, "baselines": sorted(self.baselines), "tier": self.tier,
                "content_hash": self.content_hash}
