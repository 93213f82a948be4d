"""Linear-chain CRF over emissions (Lample et al., 2016): training loss, Viterbi decoding, posteriors.

The score of tags y_0..y_n-1 for one sentence is

    start[y_0] + sum_t emissions[t, y_t] + sum_t transitions[y_t-1, y_t] + end[y_n-1]

plus, when a TransitionMask is given, its fixed additive constraints (0 allowed, NEG_INF forbidden):
forbidden sequences are then never decoded and get no probability mass (exp(-1e4) is 0 in float32).

Every method loops over positions, never over sentences, and computes in float32 whatever the dtype
of the emissions, so it is safe under torch.autocast. Masks have real words first and every sentence
has at least one word; this is the caller's contract and is not checked (checking would sync the GPU).
"""

from __future__ import annotations

import torch
from torch import nn

from tagger.decoding import TransitionMask, viterbi


class CRF(nn.Module):
    """Learned transition scores on top of per-word emissions.

    Parameters: ``transitions`` (num_tags, num_tags) from -> to, ``start`` and ``end`` (num_tags,).
    The scheme constraints are buffers left out of the state dict (persistent=False): they follow from
    the labels and the scheme, so the owner rebuilds them by passing the same TransitionMask when it
    loads a saved model. A state dict therefore loads into a CRF with or without constraints.
    """

    constraint_start: torch.Tensor  # the buffers registered in __init__, declared for the type checker
    constraint_middle: torch.Tensor
    constraint_end: torch.Tensor

    def __init__(self, num_tags: int, transitions: TransitionMask | None = None):
        super().__init__()
        self.num_tags = num_tags
        self.constrained = transitions is not None
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))  # (num_tags, num_tags): from -> to
        self.start = nn.Parameter(torch.empty(num_tags))  # (num_tags,)
        self.end = nn.Parameter(torch.empty(num_tags))  # (num_tags,)
        start, middle, end = _constraint_scores(num_tags, transitions)
        self.register_buffer("constraint_start", start, persistent=False)  # (num_tags,)
        self.register_buffer("constraint_middle", middle, persistent=False)  # (num_tags, num_tags)
        self.register_buffer("constraint_end", end, persistent=False)  # (num_tags,)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for param in (self.transitions, self.start, self.end):
            nn.init.uniform_(param, -0.1, 0.1)

    def extra_repr(self) -> str:
        return f"num_tags={self.num_tags}, constrained={self.constrained}"

    def neg_log_likelihood(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean over sentences of -log p(tags | emissions), a scalar.

        emissions (batch_size, seq_len, num_tags); tags (batch_size, seq_len) long, any value (even -100)
        beyond a sentence's length; mask (batch_size, seq_len) bool.
        """
        emissions, mask = self._check_inputs(emissions, mask, tags)
        alphas = self._forward_scores(emissions, mask)  # (batch_size, seq_len, num_tags)
        gold = self._score_tags(emissions, tags, mask)  # (batch_size,)
        return (self._log_partition(alphas) - gold).mean()

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Best tag ids (batch_size, seq_len) by batched Viterbi; positions beyond a sentence repeat its last tag."""
        emissions, mask = self._check_inputs(emissions, mask)
        return viterbi(emissions, mask, *self._scores())

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Posteriors p(tag at t | sentence) (batch_size, seq_len, num_tags) by forward-backward.

        Rows sum to 1 on real words and are 0 beyond a sentence's length.
        """
        emissions, mask = self._check_inputs(emissions, mask)
        alphas = self._forward_scores(emissions, mask)  # (batch_size, seq_len, num_tags)
        betas = self._backward_scores(emissions, mask)  # (batch_size, seq_len, num_tags)
        log_z = self._log_partition(alphas)  # (batch_size,)
        posteriors = (alphas + betas - log_z[:, None, None]).exp()  # (batch_size, seq_len, num_tags)
        # alphas + betas and log_z are summed in different orders: rounding may put a certain tag a hair above 1
        return posteriors.clamp(max=1.0).masked_fill(~mask.unsqueeze(2), 0.0)

    def _scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Learned plus fixed scores: start (num_tags,), middle (num_tags, num_tags), end (num_tags,)."""
        return (
            self.start + self.constraint_start,
            self.transitions + self.constraint_middle,
            self.end + self.constraint_end,
        )

    def _forward_scores(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """alphas[:, t, j]: log-sum of the scores of all prefixes up to t that end in tag j.

        Beyond a sentence's length the last real alpha is carried, so alphas[:, -1] is the final one.
        """
        start, middle, _ = self._scores()
        alpha = start + emissions[:, 0]  # (batch_size, num_tags)
        alphas = [alpha]
        for t in range(1, emissions.shape[1]):
            step = torch.logsumexp(alpha.unsqueeze(2) + middle, dim=1) + emissions[:, t]  # (batch_size, num_tags)
            alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)
            alphas.append(alpha)
        return torch.stack(alphas, dim=1)  # (batch_size, seq_len, num_tags)

    def _backward_scores(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """betas[:, t, i]: log-sum of the scores of all suffixes after t, given tag i at t (end included)."""
        _, middle, end = self._scores()
        beta = end.expand(emissions.shape[0], -1)  # (batch_size, num_tags)
        betas = [beta]
        for t in range(emissions.shape[1] - 2, -1, -1):
            following = (emissions[:, t + 1] + beta).unsqueeze(1)  # (batch_size, 1, num_tags)
            step = torch.logsumexp(middle + following, dim=2)  # (batch_size, num_tags)
            beta = torch.where(mask[:, t + 1].unsqueeze(1), step, beta)
            betas.append(beta)
        return torch.stack(betas[::-1], dim=1)  # (batch_size, seq_len, num_tags)

    def _log_partition(self, alphas: torch.Tensor) -> torch.Tensor:
        """log Z per sentence (batch_size,) from the forward scores."""
        _, _, end = self._scores()
        return torch.logsumexp(alphas[:, -1] + end, dim=1)  # (batch_size,)

    def _score_tags(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Score of the given tag sequence per sentence (batch_size,)."""
        start, middle, end = self._scores()
        tags = tags.masked_fill(~mask, 0)  # (batch_size, seq_len): padding may hold -100 or the pad id
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (batch_size, seq_len)
        moves = middle[tags[:, :-1], tags[:, 1:]]  # (batch_size, seq_len - 1)
        last = tags.gather(1, mask.sum(dim=1, keepdim=True) - 1).squeeze(1)  # (batch_size,)
        score = start[tags[:, 0]] + end[last]  # (batch_size,)
        score = score + emitted.masked_fill(~mask, 0.0).sum(dim=1)
        return score + moves.masked_fill(~mask[:, 1:], 0.0).sum(dim=1)

    def _check_inputs(
        self, emissions: torch.Tensor, mask: torch.Tensor, tags: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Shape checks (no data-dependent checks: they would sync the GPU); float32 emissions, bool mask."""
        if emissions.dim() != 3 or emissions.shape[2] != self.num_tags or emissions.shape[1] == 0:
            raise ValueError(
                f"CRF: emissions must be (batch_size, seq_len >= 1, num_tags={self.num_tags}); "
                f"got {tuple(emissions.shape)}"
            )
        if mask.shape != emissions.shape[:2]:
            raise ValueError(
                f"CRF: mask must be (batch_size, seq_len) = {tuple(emissions.shape[:2])}; got {tuple(mask.shape)}"
            )
        if tags is not None and tags.shape != emissions.shape[:2]:
            raise ValueError(
                f"CRF: tags must be (batch_size, seq_len) = {tuple(emissions.shape[:2])}; got {tuple(tags.shape)}"
            )
        return emissions.float(), mask.bool()


def _constraint_scores(num_tags: int, transitions: TransitionMask | None) -> tuple[torch.Tensor, ...]:
    """start (num_tags,), middle (num_tags, num_tags), end (num_tags,): zeros when unconstrained."""
    if transitions is None:
        return torch.zeros(num_tags), torch.zeros(num_tags, num_tags), torch.zeros(num_tags)
    if tuple(transitions.middle.shape) != (num_tags, num_tags):
        raise ValueError(
            f"CRF: the TransitionMask is for {transitions.middle.shape[0]} labels but num_tags={num_tags}; "
            "build both from the same label list"
        )
    return tuple(scores.detach().clone().float() for scores in (transitions.start, transitions.middle, transitions.end))
