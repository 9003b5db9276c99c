"""Drawing reviewers for dossiers (no database import): conflicts excluded, load caps respected,
deterministic for a seed.

Dossiers with the fewest eligible reviewers are served first; each takes the eligible reviewers with the
lowest load so far, preferring a discipline match, ties broken by a seeded shuffle. A dossier that cannot get
its ``per_dossier`` reviewers is reported as short rather than given a conflicted reviewer.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field


@dataclass
class Draw:
    """The result: reviewers per dossier, and dossiers left short (with how many are missing)."""

    assigned: dict[Hashable, list[Hashable]] = field(default_factory=dict)
    short: dict[Hashable, int] = field(default_factory=dict)
    load: dict[Hashable, int] = field(default_factory=dict)


def draw_reviewers(dossiers: list[Hashable], reviewers: list[Hashable], conflicts: Mapping[Hashable, set],
                   *, per_dossier: int, load_cap: int, seed: int = 0,
                   existing_load: Mapping[Hashable, int] | None = None,
                   already: Mapping[Hashable, set] | None = None,
                   match: Mapping[Hashable, set] | None = None) -> Draw:
    """Assign up to ``per_dossier`` reviewers to each dossier; ``conflicts[d]`` are reviewers excluded for
    ``d``; ``already[d]`` reviewers already assigned (count towards ``per_dossier``); ``match[d]`` reviewers
    whose discipline matches (preferred)."""
    rng = random.Random(seed)
    order = list(reviewers)
    rng.shuffle(order)
    tiebreak = {r: i for i, r in enumerate(order)}
    load = {r: (existing_load or {}).get(r, 0) for r in reviewers}
    already = already or {}
    match = match or {}

    def eligible(d: Hashable) -> list[Hashable]:
        return [r for r in reviewers if r not in conflicts.get(d, set()) and r not in already.get(d, set())]

    out = Draw(load=load)
    for d in sorted(dossiers, key=lambda d: (len(eligible(d)), str(d))):
        need = per_dossier - len(already.get(d, set()))
        pool = [r for r in eligible(d) if load[r] < load_cap]
        pool.sort(key=lambda r: (load[r], r not in match.get(d, set()), tiebreak[r]))
        chosen = pool[:max(need, 0)]
        for r in chosen:
            load[r] += 1
        out.assigned[d] = chosen
        if len(chosen) < need:
            out.short[d] = need - len(chosen)
    # Repair: a short dossier takes a reviewer r from another dossier d2, which gets a spare reviewer instead.
    for d in sorted(out.short, key=str):
        while out.short.get(d):
            if not _swap(d, out, eligible, load, load_cap, tiebreak):
                break
            out.short[d] -= 1
            if not out.short[d]:
                del out.short[d]
    return out


def _swap(d, out: Draw, eligible, load, load_cap: int, tiebreak) -> bool:
    ok_for_d = set(eligible(d)) - set(out.assigned[d])
    spare = sorted((r for r in load if load[r] < load_cap), key=lambda r: (load[r], tiebreak[r]))
    for d2 in sorted(out.assigned, key=str):
        if d2 == d:
            continue
        for r in sorted(out.assigned[d2], key=lambda r: tiebreak[r]):
            if r not in ok_for_d:
                continue
            ok_for_d2 = set(eligible(d2)) - set(out.assigned[d2])
            r2 = next((x for x in spare if x in ok_for_d2), None)
            if r2 is None:
                continue
            out.assigned[d2] = [r2 if x == r else x for x in out.assigned[d2]]
            out.assigned[d].append(r)
            load[r2] += 1
            return True
    return False
