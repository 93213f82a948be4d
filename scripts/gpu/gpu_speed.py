"""The GPU check's speed stages: tagging words/s over a batch-size sweep in fp32 and bf16 with a profile of what
bounds it, and a bare LSTM of the model's shape (scripts/gpu/gpu_check.py runs each in a process of its own)."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gpu_common import (
    FILES,
    PROFILE_BATCH,
    Context,
    error_text,
    fallback_corpus,
    read_json,
    run_capped,
    say,
    write_json,
)
from gpu_stages import train_command


class Clock:
    """A stage's deadline: ``fits(seconds)`` says whether work of that many seconds ends before it."""

    def __init__(self, deadline: float, margin: float = 3.0):
        self.deadline, self.margin = deadline, margin

    def left(self) -> float:
        return self.deadline - time.time() - self.margin

    def fits(self, seconds: float) -> bool:
        return self.left() > seconds


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def ensure_model(ctx: Context, clock: Clock, result: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """The fast model of the train stage, or (when that stage gave none) one trained for one epoch now: the
    words/s of a fast-shaped model hardly depend on its weights."""
    from tagger.serialization import is_model_dir

    corpus = ctx.corpus or fallback_corpus()
    if is_model_dir(ctx.fast_model):
        result["model"] = "the train stage's --preset fast model"
        return ctx.fast_model, corpus
    out = ctx.work / "fast_one_epoch"
    small = {**corpus, "train": corpus["dev"]}  # one epoch on the dev split: seconds on a GPU
    run = run_capped(train_command(ctx, small, out, "fast", 0.1, ("train.epochs=1",)), clock.left() / 2, keep=20)
    if run["returncode"] != 0 or not is_model_dir(out):
        raise RuntimeError(
            f"no fast model: the train stage gave none and a one-epoch training failed:\n{run['output_tail']}"
        )
    result["model"] = f"--preset fast trained for one epoch on {corpus['dev'].name} (the train stage gave none)"
    return out, corpus


def stage_tagging(ctx: Context, deadline: float) -> dict[str, Any]:
    """Tagger.tag words/s over the test split replicated to >= sizes.words words: each batch size in fp32 and
    bf16, one timed pass each after a warm-up, the device synchronised around the timing."""
    import torch

    from tagger.corpus import read_corpus
    from tagger.tagging.torch_tagger import Tagger

    clock = Clock(deadline)
    result: dict[str, Any] = {"status": "partial", "device": ctx.device, "sweep": [], "errors": []}
    path = ctx.out / FILES["tagging"]
    write_json(path, result)
    model_dir, corpus = ensure_model(ctx, clock, result)
    reference = Tagger.load(model_dir, device="cpu")
    gold = read_corpus(corpus["test"], reference.config.corpus)[0]
    words = sum(len(s.words) for s in gold)
    copies = max(1, math.ceil(ctx.sizes.words / words))
    replicated = [s.words for s in gold] * copies
    result.update(
        corpus=str(corpus["test"]),
        corpus_words=words,
        copies=copies,
        words=words * copies,
        sentences=len(replicated),
        mean_sentence_length=round(words / len(gold), 2),
        model_config={
            k: getattr(reference.config.model, k)
            for k in ("hidden", "layers", "head", "word_dim", "char_filters", "casing_dim")
        },
        labels=len(reference.vocab.labels),
    )
    if ctx.device.startswith("cuda"):
        result["cudnn_benchmark"] = torch.backends.cudnn.benchmark
    say(f"tagging {words * copies:,} words ({copies} copies of {corpus['test'].name}) on {ctx.device}")
    taggers = load_taggers(ctx, model_dir, gold, result)
    write_json(path, result)
    last_seconds: dict[str, float] = {}
    for batch_size in coarse_first(ctx.sizes.batch_sizes):
        for precision, tagger in taggers.items():
            estimate = last_seconds.get(precision, 0.0) * 1.5 + 2
            if clock.fits(estimate):
                row = time_tagging(ctx, tagger, replicated, batch_size)
                last_seconds[precision] = row.get("seconds", last_seconds.get(precision, 0.0))
            else:
                row = {"skipped": f"{clock.left():.0f} s left, a pass needs about {estimate:.0f}"}
            result["sweep"].append({"precision": precision, "batch_size": batch_size, **row})
            result["sweep"].sort(key=lambda r: (r["precision"], r["batch_size"]))
            write_json(path, result)
    if "fp32" in taggers:
        result["profile"] = profile_tagging(ctx, taggers["fp32"], replicated, clock)
    result["status"] = "ok" if not result["errors"] and not any("error" in r for r in result["sweep"]) else "failed"
    if any("skipped" in r for r in result["sweep"]):
        result["status"] = "partial" if result["status"] == "ok" else result["status"]
        result["note"] = "some batch sizes skipped: the stage's time ran out"
    return result


def load_taggers(ctx: Context, model_dir: Path, gold: list[Any], result: dict[str, Any]) -> dict[str, Any]:
    """The model in fp32 and in bf16 on the device, each scored on the test split (not replicated), and how often
    their tags agree; a precision that fails to load or tag is recorded in ``result["errors"]`` and left out."""
    from tagger.tagging.torch_tagger import Tagger

    taggers, predictions = {}, {}
    for precision in ("fp32", "bf16"):
        try:
            tagger = Tagger.load(model_dir, device=ctx.device, quantize="bf16" if precision == "bf16" else "none")
            evaluation, predictions[precision] = tagger.evaluate(gold)
            result[f"test_score_{precision}"] = evaluation.score
            taggers[precision] = tagger
        except Exception as error:  # noqa: BLE001 - recorded; the other precision goes on
            result["errors"].append({"precision": precision, "where": "load/evaluate", "error": error_text(error)})
    if len(predictions) == 2:
        pairs = [(a, b) for p, q in zip(predictions["fp32"], predictions["bf16"]) for a, b in zip(p, q)]
        result["bf16_agrees_with_fp32"] = sum(a == b for a, b in pairs) / max(1, len(pairs))
    return taggers


def time_tagging(ctx: Context, tagger: Any, sentences: list[list[str]], batch_size: int) -> dict[str, Any]:
    """One timed pass of ``Tagger.tag`` over ``sentences`` after a warm-up on a slice: words/s, batches made
    (the padding limit cuts batches short of ``batch_size``) and the peak GPU memory."""
    import torch

    from tagger.ordering import MAX_PADDING, bucketed_batches

    row: dict[str, Any] = {}
    try:
        batches = sum(
            1 for _ in bucketed_batches([len(s) for s in sentences], batch_size, shuffle=False, max_padding=MAX_PADDING)
        )
        row.update(batches=batches, mean_sentences_per_batch=round(len(sentences) / batches, 1))
        tagger.tag(sentences[: 2 * batch_size], batch_size=batch_size)  # warm-up: kernels, cuDNN plans, allocator
        if ctx.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        synchronize(ctx.device)
        start = time.perf_counter()
        tagged = tagger.tag(sentences, batch_size=batch_size)
        synchronize(ctx.device)
        seconds = time.perf_counter() - start
        if len(tagged) != len(sentences):
            raise RuntimeError(f"{len(tagged)} sentences tagged of {len(sentences)}")
        words = sum(map(len, sentences))
        row.update(seconds=round(seconds, 3), words_per_second=round(words / seconds))
        if ctx.device.startswith("cuda"):
            row["peak_gpu_memory_mib"] = round(torch.cuda.max_memory_allocated() / 2**20)
        say(
            f"  {'bf16' if tagger.quantize == 'bf16' else 'fp32'} batch {batch_size:>6,}: "
            f"{row['words_per_second']:>12,} words/s ({batches} batches, {seconds:.2f} s)"
        )
    except Exception as error:  # noqa: BLE001 - recorded; the other rows go on
        row["error"] = error_text(error)
        say(f"  batch {batch_size}: {type(error).__name__}: {error}")
    return row


def coarse_first(sizes: tuple[int, ...]) -> list[int]:
    """The smallest, the middle and the largest first, then the ones between: if time runs out, the figures
    already taken still span the range (256, 2048, 16384, 512, 4096, 1024, 8192 for the full sweep)."""
    ordered = sorted(sizes)
    chosen: list[int] = []
    for position in (0, len(ordered) // 2, len(ordered) - 1):
        if ordered[position] not in chosen:
            chosen.append(ordered[position])
    rest = [s for s in ordered if s not in chosen]
    step = max(1, len(rest) // 2)
    return chosen + rest[::step] + [s for s in rest if s not in rest[::step]]


def profile_tagging(ctx: Context, tagger: Any, sentences: list[list[str]], clock: Clock) -> dict[str, Any]:
    """What bounds tagging at one batch size, on a slice: the host's share (vocabulary lookup, batching, no
    device work) against the whole pass, torch's profiler (device kernels) and cProfile (Python)."""
    import cProfile
    import io
    import pstats

    import torch

    from tagger.batching import build_batch, encode_sentences
    from tagger.ordering import MAX_PADDING, bucketed_batches

    batch_size = max([b for b in ctx.sizes.batch_sizes if b <= PROFILE_BATCH] or [ctx.sizes.batch_sizes[0]])
    profile: dict[str, Any] = {"batch_size": batch_size, "precision": "fp32"}
    chosen, count = [], 0
    for sentence in sentences:
        if count >= ctx.sizes.profile_words:
            break
        chosen.append(sentence)
        count += len(sentence)
    profile["words"] = count

    def whole() -> None:
        synchronize(ctx.device)
        start = time.perf_counter()
        tagger.tag(chosen, batch_size=batch_size)
        synchronize(ctx.device)
        profile["whole_seconds"] = round(time.perf_counter() - start, 3)

    def host_only() -> None:
        start = time.perf_counter()
        lengths = [len(s) for s in chosen]
        for indices in bucketed_batches(lengths, batch_size, shuffle=False, max_padding=MAX_PADDING):
            encoded = encode_sentences([chosen[i] for i in indices], tagger.features, tagger.vocab)
            build_batch(encoded, tagger.features, False)
        profile["host_only_seconds"] = round(time.perf_counter() - start, 3)
        if profile.get("whole_seconds"):
            profile["host_share"] = round(profile["host_only_seconds"] / profile["whole_seconds"], 3)

    def torch_profile() -> None:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profiler

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if ctx.device.startswith("cuda") else [])
        with torch_profiler(activities=activities) as profiler:
            tagger.tag(chosen, batch_size=batch_size)
            synchronize(ctx.device)
        averages = profiler.key_averages()
        tables = {}
        for key in (["self_cuda_time_total", "self_device_time_total"] if ctx.device.startswith("cuda") else []) + [
            "self_cpu_time_total"
        ]:
            with contextlib.suppress(Exception):
                tables[key] = averages.table(sort_by=key, row_limit=15, max_name_column_width=50)
        profile["torch_profiler"] = tables

    def python_profile() -> None:
        profiler = cProfile.Profile()
        profiler.enable()
        tagger.tag(chosen, batch_size=batch_size)
        synchronize(ctx.device)
        profiler.disable()
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(20)
        profile["cprofile_by_tottime"] = stream.getvalue()[-6000:]

    steps: list[tuple[str, Callable[[], None]]] = [
        ("whole", whole),
        ("host_only", host_only),
        ("torch_profiler", torch_profile),
        ("cprofile", python_profile),
    ]
    tagger.tag(chosen[: 2 * batch_size], batch_size=batch_size)  # warm-up
    for name, step in steps:
        needed = 3 * profile.get("whole_seconds", 1.0) + 2
        if not clock.fits(needed):
            profile[f"{name}_skipped"] = f"{clock.left():.0f} s left"
            continue
        try:
            with torch.inference_mode():
                step()
        except Exception as error:  # noqa: BLE001 - recorded; the other steps go on
            profile[f"{name}_error"] = error_text(error)
    return profile


def stage_lstm(ctx: Context, deadline: float) -> dict[str, Any]:
    """A bare cuDNN LSTM of the fast model's shape (one layer, bidirectional, hidden and input as the model's)
    over ``sizes.lstm_tokens`` tokens per configuration, beside the model's own recurrent module (two
    unidirectional LSTMs and a reversal index): the most any tagging of that shape could get from the GPU."""
    from dataclasses import replace

    from tagger.config import Config, load_config
    from tagger.serialization import is_model_dir

    clock = Clock(deadline)
    path = ctx.out / FILES["lstm"]
    if is_model_dir(ctx.fast_model):
        model_config = Config.from_dict(read_json(ctx.fast_model / "config.json")["config"]).model
        source = "the train stage's model"
    else:
        model_config = load_config(None, [], preset="fast").model
        source = "--preset fast"
    one_layer = replace(model_config, layers=1, context_between_layers=False, bidirectional=True)
    chars = {"cnn": model_config.char_filters, "lstm": 2 * model_config.char_filters, "none": 0}[
        model_config.char_encoder
    ]
    input_size = model_config.word_dim + chars + model_config.casing_dim
    tagging = read_json(ctx.out / FILES["tagging"]) or {}
    seq_len = max(1, round(tagging.get("mean_sentence_length") or 14))
    result: dict[str, Any] = {
        "status": "partial",
        "device": ctx.device,
        "shape_from": source,
        "input_size": input_size,
        "hidden": model_config.hidden,
        "layers": 1,
        "bidirectional": True,
        "seq_len": seq_len,
        "tokens": ctx.sizes.lstm_tokens,
        "sweep": [],
    }
    write_json(path, result)
    last = 0.0
    for batch_size in coarse_first(ctx.sizes.batch_sizes):
        for precision in ("fp32", "bf16"):
            for module_name in ("nn.LSTM", "model Recurrent"):
                if clock.fits(last * 1.5 + 1):
                    row = time_recurrent(ctx, module_name, one_layer, input_size, precision, batch_size, seq_len)
                    last = row.get("seconds", last)
                else:
                    row = {"skipped": f"{clock.left():.0f} s left"}
                result["sweep"].append({"module": module_name, "precision": precision, "batch_size": batch_size, **row})
                result["sweep"].sort(key=lambda r: (r["module"], r["precision"], r["batch_size"]))
                write_json(path, result)
    failed = any("error" in r for r in result["sweep"])
    result["status"] = "failed" if failed else ("partial" if any("skipped" in r for r in result["sweep"]) else "ok")
    return result


def time_recurrent(
    ctx: Context, module_name: str, config: Any, input_size: int, precision: str, batch_size: int, seq_len: int
) -> dict[str, Any]:
    """Tokens/s of ``nn.LSTM`` (bidirectional, cuDNN's fused kernel) or of the model's ``Recurrent`` (what the
    tagger runs) over full-length inputs of (batch_size, seq_len, input_size), after two warm-up calls."""
    import torch
    from torch import nn

    from tagger.model import Recurrent

    row: dict[str, Any] = {}
    try:
        device, dtype = torch.device(ctx.device), {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
        torch.manual_seed(0)
        if module_name == "nn.LSTM":
            lstm = nn.LSTM(input_size, config.hidden, batch_first=True, bidirectional=True).to(device, dtype).eval()
            forward = lambda x, mask: lstm(x)[0]  # noqa: E731
        else:
            forward = Recurrent(config, input_size).to(device, dtype).eval()
        inputs = torch.randn(batch_size, seq_len, input_size, device=device, dtype=dtype)
        mask = torch.ones(batch_size, seq_len, dtype=torch.bool, device=device)
        steps = max(1, math.ceil(ctx.sizes.lstm_tokens / (batch_size * seq_len)))
        with torch.inference_mode():
            for _ in range(2):
                forward(inputs, mask)
            synchronize(ctx.device)
            start = time.perf_counter()
            for _ in range(steps):
                forward(inputs, mask)
            synchronize(ctx.device)
        seconds = time.perf_counter() - start
        row.update(
            steps=steps, seconds=round(seconds, 4), tokens_per_second=round(steps * batch_size * seq_len / seconds)
        )
        say(f"  {module_name:<16} {precision} batch {batch_size:>6,}: {row['tokens_per_second']:>14,} tokens/s")
    except Exception as error:  # noqa: BLE001 - recorded; the other rows go on
        row["error"] = error_text(error)
        say(f"  {module_name} {precision} batch {batch_size}: {type(error).__name__}: {error}")
    return row
