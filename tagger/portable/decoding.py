"""Emissions -> tag ids and probabilities in numpy, as ``tagger.decoding`` and ``tagger.crf`` compute them in torch:
float32 throughout, batched over sentences, looping over positions only.

Masks have real words first and every sentence at least one word (the caller's contract, as in torch).
"""

from __future__ import annotations

import numpy as np

from tagger.portable.files import Decoding


def log_softmax(emissions: np.ndarray) -> np.ndarray:
    """(batch_size, seq_len, num_tags) log probabilities over the last axis."""
    shifted = emissions - emissions.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def logsumexp(values: np.ndarray, axis: int) -> np.ndarray:
    top = values.max(axis=axis, keepdims=True)
    return np.squeeze(top, axis) + np.log(np.exp(values - top).sum(axis=axis))


def viterbi(scores: np.ndarray, mask: np.ndarray, start: np.ndarray, middle: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Highest-scoring tag ids (batch_size, seq_len) under additive start, transition (from -> to) and end scores;
    beyond a sentence's length the path repeats its last tag (``tagger.decoding.viterbi``)."""
    batch_size, seq_len, num_tags = scores.shape
    score = scores[:, 0] + start  # (batch_size, num_tags)
    stay = np.broadcast_to(np.arange(num_tags), (batch_size, num_tags))
    backpointers = np.empty((max(seq_len - 1, 0), batch_size, num_tags), dtype=np.int64)
    for t in range(1, seq_len):
        candidates = score[:, :, None] + middle  # (batch_size, from, to)
        best_from = candidates.argmax(axis=1)  # (batch_size, num_tags): the first best, as torch's max
        best = np.take_along_axis(candidates, best_from[:, None, :], axis=1)[:, 0]
        step = mask[:, t, None]  # (batch_size, 1)
        score = np.where(step, best + scores[:, t], score)
        backpointers[t - 1] = np.where(step, best_from, stay)
    path = np.empty((batch_size, seq_len), dtype=np.int64)
    last = (score + end).argmax(axis=1)  # (batch_size,)
    path[:, -1] = last
    rows = np.arange(batch_size)
    for t in range(seq_len - 2, -1, -1):
        last = backpointers[t][rows, last]
        path[:, t] = last
    return path


def crf_marginals(
    emissions: np.ndarray, mask: np.ndarray, start: np.ndarray, middle: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """Posteriors p(tag at t | sentence) (batch_size, seq_len, num_tags) by forward-backward (``CRF.marginals``):
    rows sum to 1 on real words and are 0 beyond a sentence's length."""
    seq_len = emissions.shape[1]
    alphas = np.empty_like(emissions)
    alpha = start + emissions[:, 0]  # (batch_size, num_tags)
    alphas[:, 0] = alpha
    for t in range(1, seq_len):
        step = logsumexp(alpha[:, :, None] + middle, axis=1) + emissions[:, t]
        alpha = np.where(mask[:, t, None], step, alpha)
        alphas[:, t] = alpha
    betas = np.empty_like(emissions)
    beta = np.broadcast_to(end, alpha.shape)
    betas[:, -1] = beta
    for t in range(seq_len - 2, -1, -1):
        following = (emissions[:, t + 1] + beta)[:, None, :]  # (batch_size, 1, num_tags)
        step = logsumexp(middle + following, axis=2)
        beta = np.where(mask[:, t + 1, None], step, beta)
        betas[:, t] = beta
    log_z = logsumexp(alphas[:, -1] + end, axis=1)  # (batch_size,)
    posteriors = np.exp(alphas + betas - log_z[:, None, None])
    return np.where(mask[:, :, None], np.minimum(posteriors, np.float32(1.0)), np.float32(0.0))


class Decoder:
    """A model's decoding (``Decoding``, from config.json) over float32 emissions."""

    def __init__(self, decoding: Decoding):
        self.method = decoding.method
        as_array = lambda values: np.asarray(values, dtype=np.float32)
        self.start, self.middle, self.end = (as_array(v) for v in (decoding.start, decoding.transitions, decoding.end))

    def __call__(
        self, emissions: np.ndarray, mask: np.ndarray, scores: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Best label ids (batch_size, seq_len) and, with ``scores``, the probability of each (CRF: its posterior
        marginal; softmax: its softmax probability)."""
        emissions = emissions.astype(np.float32, copy=False)
        if self.method == "crf":
            best = viterbi(emissions, mask, self.start, self.middle, self.end)
            if not scores:
                return best, None
            posteriors = crf_marginals(emissions, mask, self.start, self.middle, self.end)
            return best, np.take_along_axis(posteriors, best[:, :, None], axis=2)[:, :, 0]
        log_probs = log_softmax(emissions)
        best = self.best_of_softmax(log_probs, mask)
        return best, np.exp(np.take_along_axis(log_probs, best[:, :, None], axis=2)[:, :, 0])

    def distributions(self, emissions: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best label ids (batch_size, seq_len) and every label's probability at each word (batch_size, seq_len,
        num_tags): a CRF's posterior marginals, else the softmax."""
        emissions = emissions.astype(np.float32, copy=False)
        if self.method == "crf":
            best = viterbi(emissions, mask, self.start, self.middle, self.end)
            return best, crf_marginals(emissions, mask, self.start, self.middle, self.end)
        log_probs = log_softmax(emissions)
        return self.best_of_softmax(log_probs, mask), np.exp(log_probs)

    def best_of_softmax(self, log_probs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.method == "constrained":
            return self.best_allowed(log_probs, mask)
        return log_probs.argmax(axis=-1)

    def best_allowed(self, log_probs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``tagger.decoding.decode_constrained``: the argmax path where the scheme allows it (allowed transitions
        score 0, so it is then the best allowed path), Viterbi for the other sentences."""
        best = log_probs.argmax(axis=-1)  # (batch_size, seq_len)
        last = best[np.arange(best.shape[0]), mask.sum(axis=1) - 1]
        best = np.where(mask, best, last[:, None])  # as Viterbi's: beyond its length a path repeats its last tag
        forbidden = (self.start[best[:, 0]] != 0) | (self.end[last] != 0)
        if best.shape[1] > 1:
            forbidden |= ((self.middle[best[:, :-1], best[:, 1:]] != 0) & mask[:, 1:]).any(axis=1)
        if forbidden.any():
            again = np.flatnonzero(forbidden)
            best[again] = viterbi(log_probs[again], mask[again], self.start, self.middle, self.end)
        return best
