import itertools

import torch

from tagger.decoding import TransitionMask, decode_constrained
from tagger.schemes import find_violations

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def brute_force(log_probs: torch.Tensor, length: int, scheme: str = "IOB2") -> list[int]:
    best, best_score = None, float("-inf")
    for path in itertools.product(range(len(LABELS)), repeat=length):
        if find_violations([LABELS[i] for i in path], scheme):
            continue
        score = sum(log_probs[t, i].item() for t, i in enumerate(path))
        if score > best_score:
            best, best_score = list(path), score
    return best


def test_constrained_decoding_matches_brute_force_on_random_batches():
    torch.manual_seed(0)
    transitions = TransitionMask(LABELS, "IOB2")
    for _ in range(20):
        lengths = torch.tensor([4, 1, 3])
        log_probs = torch.log_softmax(torch.randn(3, 4, len(LABELS)) * 3, dim=-1)
        mask = torch.arange(4)[None, :] < lengths[:, None]
        decoded = decode_constrained(log_probs, mask, transitions)
        for row, length in enumerate(lengths.tolist()):
            assert decoded[row, :length].tolist() == brute_force(log_probs[row], length)


def test_constrained_decoding_never_emits_inside_after_outside():
    transitions = TransitionMask(LABELS, "IOB2")
    log_probs = torch.log(torch.tensor([[[0.9, 0.0, 0.05, 0.05, 0.0], [0.1, 0.0, 0.8, 0.0, 0.1]]]) + 1e-6)
    decoded = decode_constrained(log_probs, torch.ones(1, 2, dtype=torch.bool), transitions)
    tags = [LABELS[i] for i in decoded[0].tolist()]
    assert find_violations(tags, "IOB2") == []
    assert tags != ["O", "I-PER"]
