"""Emissions -> tag ids: plain argmax, or Viterbi restricted to the transitions the scheme allows."""

from __future__ import annotations

from collections.abc import Sequence

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

    def to(self, device: torch.device) -> TransitionMask:
        for name in ("start", "middle", "end"):
            setattr(self, name, getattr(self, name).to(device))
        return self


def decode_argmax(log_probs: torch.Tensor) -> torch.Tensor:
    return log_probs.argmax(dim=-1)  # (batch_size, seq_len)


def decode_constrained(log_probs: torch.Tensor, mask: torch.Tensor, transitions: TransitionMask) -> torch.Tensor:
    """Best tag sequence per sentence that only uses allowed transitions (softmax head).

    Allowed transitions score 0, so where a sentence's argmax path is allowed it is the best allowed path: only the
    other sentences (a few in a hundred, for a trained model) go through Viterbi's loop over positions.
    """
    best = log_probs.argmax(dim=-1)  # (batch_size, seq_len)
    lengths = mask.sum(dim=1)
    rows = torch.arange(best.shape[0], device=best.device)
    last = best[rows, lengths - 1]
    best = torch.where(mask, best, last.unsqueeze(1))  # as Viterbi's: beyond its length a path repeats its last tag
    forbidden = (transitions.start[best[:, 0]] != 0) | (transitions.end[last] != 0)
    if best.shape[1] > 1:
        steps = transitions.middle[best[:, :-1], best[:, 1:]] != 0  # (batch_size, seq_len - 1)
        forbidden |= (steps & mask[:, 1:]).any(dim=1)
    if forbidden.any():
        again = forbidden.nonzero().squeeze(1)
        best[again] = viterbi(log_probs[again], mask[again], transitions.start, transitions.middle, transitions.end)
    return best


def viterbi(
    scores: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, middle: torch.Tensor, end: torch.Tensor
) -> torch.Tensor:
    """Highest-scoring tag ids (batch_size, seq_len) under additive start, transition and end scores.

    scores (batch_size, seq_len, num_tags); mask (batch_size, seq_len) with real words first; start and
    end (num_tags,), middle (num_tags, num_tags) from -> to. Loops over positions, never over sentences;
    beyond a sentence's length the path repeats its last tag.
    """
    num_tags = scores.shape[2]
    score = scores[:, 0] + start  # (batch_size, num_tags)
    stay = torch.arange(num_tags, device=scores.device).expand_as(score)  # (batch_size, num_tags)
    backpointers = []
    for t in range(1, scores.shape[1]):
        best, best_from = (score.unsqueeze(2) + middle).max(dim=1)  # (batch_size, num_tags)
        step = mask[:, t].unsqueeze(1)  # (batch_size, 1)
        score = torch.where(step, best + scores[:, t], score)
        backpointers.append(torch.where(step, best_from, stay))
    last = (score + end).argmax(dim=1)  # (batch_size,)
    path = [last]
    for pointers in reversed(backpointers):
        last = pointers.gather(1, last.unsqueeze(1)).squeeze(1)  # (batch_size,)
        path.append(last)
    return torch.stack(path[::-1], dim=1)  # (batch_size, seq_len)
