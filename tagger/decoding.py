"""Emissions -> tag ids: plain argmax, or Viterbi restricted to the transitions the scheme allows."""

from __future__ import annotations

from typing import Sequence

import torch

from tagger.schemes import allowed_transitions

NEG_INF = -1e4  # finite, so an all-forbidden row still decodes instead of producing NaN


class TransitionMask:
    """Additive scores (0 allowed, NEG_INF forbidden) for the labels of one scheme."""

    def __init__(self, labels: Sequence[str], scheme: str):
        start, middle, end = allowed_transitions(list(labels), scheme)
        as_scores = lambda allowed: torch.tensor(allowed, dtype=torch.bool).logical_not().float() * NEG_INF
        self.start = as_scores(start)  # (num_tags,)
        self.middle = as_scores(middle)  # (num_tags, num_tags): from -> to
        self.end = as_scores(end)  # (num_tags,)

    def to(self, device: torch.device) -> "TransitionMask":
        for name in ("start", "middle", "end"):
            setattr(self, name, getattr(self, name).to(device))
        return self


def decode_argmax(log_probs: torch.Tensor) -> torch.Tensor:
    return log_probs.argmax(dim=-1)  # (batch_size, seq_len)


def decode_constrained(log_probs: torch.Tensor, mask: torch.Tensor, transitions: TransitionMask) -> torch.Tensor:
    """Best tag sequence per sentence that only uses allowed transitions.

    log_probs (batch_size, seq_len, num_tags); mask (batch_size, seq_len) with real words first.
    Loops over positions, never over sentences.
    """
    batch_size, seq_len, num_tags = log_probs.shape
    score = log_probs[:, 0] + transitions.start  # (batch_size, num_tags)
    backpointers = []
    for t in range(1, seq_len):
        candidates = score.unsqueeze(2) + transitions.middle  # (batch_size, from, to)
        best, best_from = candidates.max(dim=1)  # (batch_size, num_tags)
        step = mask[:, t].unsqueeze(1)  # (batch_size, 1)
        score = torch.where(step, best + log_probs[:, t], score)
        backpointers.append(torch.where(step, best_from, torch.arange(num_tags, device=score.device)))
    last = (score + transitions.end).argmax(dim=1)  # (batch_size,)
    path = [last]
    for pointers in reversed(backpointers):
        last = pointers.gather(1, last.unsqueeze(1)).squeeze(1)
        path.append(last)
    return torch.stack(path[::-1], dim=1)  # (batch_size, seq_len)
