"""The look-up structures behind the gazetteer: sorted keys for prefixes and words, trigrams for typos.

A plain fuzzy scan over 100,000 landmark and street names takes tens of milliseconds per keystroke.
Here a prefix or a word is a bisect in sorted (key, entry) pairs, and the best few entries of very
common prefixes ("jalan", "pasar", "s") are kept ready, so a one-letter query costs no more than a long
one. A typo is scored only against the few hundred keys that share the most trigrams with it.
Entries are plain integers; `rank` orders them (lower first) when their match is equally good.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence

import numpy as np

from geo.arrays import IntArray

# A prefix matching more (key, entry) pairs than this keeps its best entries ready.
BIG_SPAN = 1024
# How many best entries are kept for such a prefix; the search API asks for at most 50.
TOP_K = 64
# Keys scored by rapidfuzz per typo query, chosen by shared trigrams.
FUZZY_CANDIDATES = 96
# A trigram in more than this share of keys says little about which key is meant ("ang", "jal").
COMMON_TRIGRAM = 0.02
_END = "\uffff"


class SortedPairs:
    """(key, entry) pairs in key order: which entries have a key starting with a prefix, best first."""

    def __init__(self, pairs: Iterable[tuple[str, int]], rank: IntArray) -> None:
        ordered = sorted(set(pairs))
        self.keys = [key for key, _ in ordered]
        self.ids: IntArray = np.fromiter((i for _, i in ordered), dtype=np.int64, count=len(ordered))
        self.ranks: IntArray = rank[self.ids] if len(ordered) else np.zeros(0, dtype=np.int64)
        self._ready: dict[str, list[int]] = {}
        self._prepare()

    def span(self, prefix: str, lo: int = 0, hi: int | None = None) -> tuple[int, int]:
        """Positions [start, end) of the keys starting with `prefix`."""
        hi = len(self.keys) if hi is None else hi
        start = bisect.bisect_left(self.keys, prefix, lo, hi)
        return start, bisect.bisect_left(self.keys, prefix + _END, start, hi)

    def best(self, prefix: str, k: int) -> list[int]:
        """Up to k distinct entries with a key starting with `prefix`, lowest rank first."""
        start, end = self.span(prefix)
        if end - start > BIG_SPAN and k <= TOP_K and prefix in self._ready:
            return self._ready[prefix][:k]
        return self._best(start, end, k)

    def _best(self, start: int, end: int, k: int) -> list[int]:
        ids, ranks = self.ids[start:end], self.ranks[start:end]
        n = end - start
        take = min(n, 4 * k)
        while True:
            part = np.argpartition(ranks, take - 1)[:take] if take < n else np.arange(n)
            order = part[np.argsort(ranks[part], kind="stable")]
            found = list(dict.fromkeys(int(i) for i in ids[order]))
            if len(found) >= k or take >= n:
                return found[:k]
            take = min(n, take * 4)  # one entry had many keys here: look further

    def _prepare(self) -> None:
        """The best entries of every prefix with more than BIG_SPAN pairs, found level by level
        (a prefix can only be big inside a big shorter one)."""
        spans = [(0, len(self.keys), "")]
        while spans:
            deeper = []
            for lo, hi, prefix in spans:
                length, i = len(prefix) + 1, lo
                while i < hi:
                    if len(self.keys[i]) < length:  # the shorter key itself: no longer prefix holds it
                        i += 1
                        continue
                    longer = self.keys[i][:length]
                    _, j = self.span(longer, i, hi)
                    if j - i > BIG_SPAN:
                        self._ready[longer] = self._best(i, j, TOP_K)
                        deeper.append((i, j, longer))
                    i = j
            spans = deeper


class Trigrams:
    """Which keys share the most three-letter pieces with a query: the candidates for fuzzy scoring."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = list(keys)
        postings: dict[str, list[int]] = {}
        for n, key in enumerate(self.keys):
            for gram in set(trigrams(key)):
                postings.setdefault(gram, []).append(n)
        self._postings = {gram: np.array(ns, dtype=np.int64) for gram, ns in postings.items()}
        self._sizes = np.array([len(set(trigrams(k))) for k in self.keys], dtype=np.int64)
        self._common = max(64, int(COMMON_TRIGRAM * len(self.keys)))

    def candidates(self, query: str, n: int = FUZZY_CANDIDATES) -> list[str]:
        """Up to n keys sharing a third of the query's rarer trigrams, the most alike (Jaccard) first."""
        grams = set(trigrams(query))
        lists = [p for g in grams if (p := self._postings.get(g)) is not None]
        rare = [p for p in lists if len(p) <= self._common]
        if not rare:  # only common pieces ("jalan"): the rarest few of them still narrow it down
            rare = sorted(lists, key=len)[:2]
        if not rare:
            return []
        counts_all = np.bincount(np.concatenate(rare), minlength=len(self.keys))
        need = max(1, math.ceil(0.34 * len(rare)))
        keys = np.flatnonzero(counts_all >= need)
        counts = counts_all[keys]
        if len(keys) > n:  # alike: many shared pieces and few others, so "nurul iman" beats "nurul iman raya"
            alike = counts / (len(grams) + self._sizes[keys] - counts)
            keys = keys[np.argpartition(-alike, n - 1)[:n]]
        return [self.keys[int(i)] for i in keys]


def trigrams(key: str) -> list[str]:
    padded = f" {key} "
    return [padded[i : i + 3] for i in range(len(padded) - 2)]
