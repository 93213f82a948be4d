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


def test_argmax_paths_the_scheme_allows_skip_viterbi_with_the_same_result_in_torch_and_numpy():
    import numpy as np

    from tagger.decoding import viterbi
    from tagger.portable.decoding import Decoder
    from tagger.portable.files import Decoding

    labels = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]
    transitions = TransitionMask(labels, "BIOES")
    scores = [s.tolist() for s in (transitions.start, transitions.middle, transitions.end)]
    numpy_decoder = Decoder(Decoding("constrained", *scores))
    torch.manual_seed(5)
    allowed_rows = forbidden_rows = 0
    for batch_size, seq_len in ((1, 1), (6, 2), (16, 12), (32, 30)):
        # mostly O, as in text: many argmax paths are allowed, the rest are not
        emissions = torch.randn(batch_size, seq_len, len(labels)) * 2
        emissions[:, :, 0] += 3
        log_probs = torch.log_softmax(emissions, dim=-1)
        lengths = torch.randint(1, seq_len + 1, (batch_size,))
        mask = torch.arange(seq_len)[None, :] < lengths[:, None]
        full = viterbi(log_probs, mask, transitions.start, transitions.middle, transitions.end)
        assert torch.equal(decode_constrained(log_probs, mask, transitions), full)
        assert np.array_equal(numpy_decoder.best_allowed(log_probs.numpy(), mask.numpy()), full.numpy())
        plain = log_probs.argmax(dim=-1)
        same = ((plain == full) | ~mask).all(dim=1)
        allowed_rows, forbidden_rows = allowed_rows + int(same.sum()), forbidden_rows + int((~same).sum())
    assert allowed_rows > 5 and forbidden_rows > 5  # both ways through were taken
