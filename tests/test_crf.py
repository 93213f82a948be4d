"""CRF against a brute-force oracle that enumerates every tag sequence, plus the contracts the tagger relies on."""

import itertools

import pytest
import torch

from tagger.crf import CRF
from tagger.decoding import TransitionMask
from tagger.schemes import find_violations

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
O, B_PER, I_PER, B_LOC, I_LOC = range(len(LABELS))  # noqa: E741 (O is the tag's name)


def random_crf(num_tags: int, transitions: TransitionMask | None = None) -> CRF:
    """A CRF with scores large enough that a wrong sum or a wrong argmax shows."""
    crf = CRF(num_tags, transitions)
    with torch.no_grad():
        for param in crf.parameters():
            param.normal_(0.0, 1.0)
    return crf


def random_batch(num_tags: int, lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Emissions, tags and mask; padding holds garbage (huge emissions, tag -100) that must not matter."""
    seq_len = max(lengths)
    mask = torch.arange(seq_len)[None, :] < torch.tensor(lengths)[:, None]  # (batch_size, seq_len)
    emissions = torch.randn(len(lengths), seq_len, num_tags) * 2  # (batch_size, seq_len, num_tags)
    emissions = emissions.masked_fill(~mask.unsqueeze(2), 1e3)
    tags = torch.randint(num_tags, (len(lengths), seq_len)).masked_fill(~mask, -100)  # (batch_size, seq_len)
    return emissions, tags, mask


def enumerate_paths(crf: CRF, emissions: torch.Tensor, length: int, scheme: str | None = None, labels=LABELS):
    """All tag sequences of one sentence and their scores from the learned parameters only (float64).

    With a scheme, the sequences find_violations rejects are left out instead of being scored.
    """
    paths = [
        p
        for p in itertools.product(range(crf.num_tags), repeat=length)
        if scheme is None or not find_violations([labels[i] for i in p], scheme)
    ]
    paths = torch.tensor(paths)  # (num_paths, length)
    start, transitions, end = (p.detach().double() for p in (crf.start, crf.transitions, crf.end))
    scores = start[paths[:, 0]] + end[paths[:, -1]]  # (num_paths,)
    scores = scores + emissions[:length].double()[torch.arange(length), paths].sum(dim=1)
    scores = scores + transitions[paths[:, :-1], paths[:, 1:]].sum(dim=1)
    return paths, scores


def oracle(crf: CRF, emissions: torch.Tensor, tags: torch.Tensor, length: int, scheme=None, labels=LABELS) -> dict:
    paths, scores = enumerate_paths(crf, emissions, length, scheme, labels)
    log_z = torch.logsumexp(scores, dim=0)
    gold = (paths == tags[:length]).all(dim=1)
    probs = (scores - log_z).exp()  # (num_paths,)
    one_hot = torch.nn.functional.one_hot(paths, crf.num_tags).double()  # (num_paths, length, num_tags)
    return {
        "log_z": log_z.item(),
        "nll": (log_z - scores[gold].sum()).item() if gold.any() else None,
        "best": paths[scores.argmax()].tolist(),
        "marginals": (probs[:, None, None] * one_hot).sum(dim=0),  # (length, num_tags)
    }


def check_against_oracle(crf: CRF, lengths: list[int], scheme: str | None = None, labels=LABELS):
    emissions, tags, mask = random_batch(crf.num_tags, lengths)
    if scheme is not None:  # gold must be one of the valid sequences the oracle enumerates
        for row, length in enumerate(lengths):
            paths, _ = enumerate_paths(crf, emissions[row], length, scheme, labels)
            tags[row, :length] = paths[torch.randint(len(paths), ())]
    expected = [oracle(crf, emissions[row], tags[row], length, scheme, labels) for row, length in enumerate(lengths)]
    alphas = crf._forward_scores(emissions, mask)
    log_z = crf._log_partition(alphas)
    decoded = crf.decode(emissions, mask)
    marginals = crf.marginals(emissions, mask)
    for row, (length, want) in enumerate(zip(lengths, expected)):
        assert log_z[row].item() == pytest.approx(want["log_z"], abs=1e-4)
        assert decoded[row, :length].tolist() == want["best"]
        torch.testing.assert_close(marginals[row, :length].double(), want["marginals"], atol=1e-4, rtol=0)
    nll = crf.neg_log_likelihood(emissions, tags, mask)
    assert nll.item() == pytest.approx(sum(w["nll"] for w in expected) / len(lengths), abs=1e-4)


@pytest.mark.parametrize("num_tags", [3, 4, 5])
def test_matches_brute_force_on_random_padded_batches(num_tags):
    torch.manual_seed(num_tags)
    for lengths in ([1], [4], [4, 1, 3, 2], [2, 4, 1], [3, 3]):
        check_against_oracle(random_crf(num_tags), lengths)


@pytest.mark.parametrize("labels, scheme", [(LABELS, "IOB2"), (["O", "B-PER", "I-PER", "E-PER", "S-PER"], "BIOES")])
def test_constrained_matches_brute_force_over_valid_sequences(labels, scheme):
    """BIOES also checks the end constraints: a sentence cannot end on B-PER or I-PER."""
    torch.manual_seed(1)
    for lengths in ([1], [4, 1, 3, 2], [2, 4]):
        check_against_oracle(random_crf(len(labels), TransitionMask(labels, scheme)), lengths, scheme, labels)


def test_constrained_decoding_never_produces_an_invalid_sequence():
    torch.manual_seed(2)
    crf = random_crf(len(LABELS), TransitionMask(LABELS, "IOB2"))
    emissions = torch.full((1, 3, len(LABELS)), -20.0)
    emissions[0, 0, O] = emissions[0, 1, I_PER] = emissions[0, 2, I_LOC] = 20.0  # O I-PER I-LOC, all invalid
    assert (
        find_violations([LABELS[i] for i in crf.decode(emissions, torch.ones(1, 3, dtype=torch.bool))[0]], "IOB2") == []
    )
    emissions, _, mask = random_batch(len(LABELS), [4, 1, 3, 2] * 50)
    for row, tags in enumerate(crf.decode(emissions * 5, mask).tolist()):
        assert find_violations([LABELS[i] for i in tags[: int(mask[row].sum())]], "IOB2") == []


def test_forbidden_paths_get_no_probability_mass():
    crf = random_crf(len(LABELS), TransitionMask(LABELS, "IOB2"))
    emissions = torch.full((1, 2, len(LABELS)), -20.0)
    emissions[0, 0] = -100.0  # the first word is surely O ...
    emissions[0, 0, O] = emissions[0, 1, I_PER] = 20.0  # ... and the second strongly I-PER
    mask = torch.ones(1, 2, dtype=torch.bool)
    marginals = crf.marginals(emissions, mask)
    assert marginals[0, 1, I_PER] < 1e-6  # I-PER needs B-PER or I-PER before it, and those are ~impossible at 0
    assert marginals[0, 0, I_PER] < 1e-6 and marginals[0, 0, I_LOC] < 1e-6  # I-X cannot start a sentence
    torch.testing.assert_close(marginals.sum(dim=2), torch.ones(1, 2))
    assert crf.neg_log_likelihood(emissions, torch.tensor([[O, I_PER]]), mask) > 1e3
    assert crf.neg_log_likelihood(emissions, torch.tensor([[I_PER, I_PER]]), mask) > 1e3


def test_padding_does_not_change_a_sentence():
    torch.manual_seed(3)
    crf = random_crf(4)
    emissions, tags, mask = random_batch(4, [5, 2, 3])
    decoded, marginals = crf.decode(emissions, mask), crf.marginals(emissions, mask)
    alone = []
    for row, length in enumerate([5, 2, 3]):
        one = (emissions[row : row + 1, :length], mask[row : row + 1, :length])
        alone.append(crf.neg_log_likelihood(one[0], tags[row : row + 1, :length], one[1]))
        assert decoded[row, :length].tolist() == crf.decode(*one)[0].tolist()
        torch.testing.assert_close(marginals[row, :length], crf.marginals(*one)[0])
        assert (marginals[row, length:] == 0).all()
    torch.testing.assert_close(crf.neg_log_likelihood(emissions, tags, mask), torch.stack(alone).mean())


def test_gradients_reach_every_parameter_and_the_emissions_of_real_words_only():
    torch.manual_seed(4)
    crf = random_crf(len(LABELS), TransitionMask(LABELS, "IOB2"))
    emissions, _, mask = random_batch(len(LABELS), [4, 2])
    emissions.requires_grad_(True)
    tags = torch.tensor([[B_PER, I_PER, O, B_LOC], [O, O, -100, -100]])
    crf.neg_log_likelihood(emissions, tags, mask).backward()
    for name, param in crf.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert emissions.grad[mask].abs().sum(dim=1).min() > 0
    assert (emissions.grad[~mask] == 0).all()


def test_constraints_are_buffers_rebuilt_by_the_owner_not_saved():
    constrained = CRF(len(LABELS), TransitionMask(LABELS, "IOB2"))
    assert {name for name, _ in constrained.named_parameters()} == {"transitions", "start", "end"}
    assert set(constrained.state_dict()) == {"transitions", "start", "end"}
    plain = CRF(len(LABELS))
    plain.load_state_dict(constrained.state_dict())  # loads either way; constraints come from the constructor
    constrained.load_state_dict(plain.state_dict())
    assert constrained.constraint_middle[O, I_PER] < -1e3 and constrained.constraint_start[I_LOC] < -1e3
    assert (plain.constraint_middle == 0).all()


def test_wrong_shapes_name_expected_and_got():
    crf = CRF(3)
    with pytest.raises(ValueError, match=r"num_tags=3.*got \(2, 4, 5\)"):
        crf.decode(torch.zeros(2, 4, 5), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"mask must be .*\(2, 4\); got \(2, 3\)"):
        crf.marginals(torch.zeros(2, 4, 3), torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="TransitionMask is for 5 labels but num_tags=3"):
        CRF(3, TransitionMask(LABELS, "IOB2"))


def test_autocast_computes_in_float32():
    torch.manual_seed(5)
    crf = random_crf(4)
    emissions, tags, mask = random_batch(4, [3, 2])
    emissions = emissions.bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        nll, marginals = crf.neg_log_likelihood(emissions, tags, mask), crf.marginals(emissions, mask)
    assert nll.dtype == marginals.dtype == torch.float32
    torch.testing.assert_close(nll, crf.neg_log_likelihood(emissions.float(), tags, mask))
    torch.testing.assert_close(marginals, crf.marginals(emissions.float(), mask))


def test_learns_tags_that_depend_on_the_previous_tag():
    """Only the first word's emission says anything; every later tag is (previous + 1) % 3, so only the
    transitions can get them right: per-word argmax of the emissions cannot reach 100%."""
    torch.manual_seed(6)
    num_tags, lengths = 3, torch.tensor([6, 4, 5, 3, 6, 2])
    mask = torch.arange(6)[None, :] < lengths[:, None]  # (batch_size, seq_len)
    first = torch.tensor([0, 1, 2, 0, 1, 2])
    tags = (first[:, None] + torch.arange(6)[None, :]) % num_tags  # (batch_size, seq_len)
    features = torch.zeros(6, 6, num_tags)  # (batch_size, seq_len, num_tags): first word only
    features[torch.arange(6), 0, first] = 1.0
    emitter, crf = torch.nn.Linear(num_tags, num_tags), CRF(num_tags)
    optimizer = torch.optim.Adam([*emitter.parameters(), *crf.parameters()], lr=0.05)
    for _ in range(300):
        optimizer.zero_grad()
        crf.neg_log_likelihood(emitter(features), tags, mask).backward()
        optimizer.step()
    emissions = emitter(features).detach()
    assert (crf.decode(emissions, mask)[mask] == tags[mask]).all()
    assert (emissions.argmax(dim=2)[mask] == tags[mask]).float().mean() < 1.0
