"""What ``acts-gnn train ...`` and ``acts-gnn export ...`` run (their options:
:mod:`acts_gnn.cli`).

``acts-gnn train gnn|embedding|filter --config FILE.yaml [--resume] [--device cpu|cuda] [--output DIR]``
``acts-gnn export gnn|embedding|filter --checkpoint FILE.pt [--onnx FILE.onnx] [--torchscript FILE.pt]``

The GNN training also runs as ``python -m acts_gnn.train --config FILE.yaml``, which is handy
with torchrun: ``torchrun --nproc_per_node=4 -m acts_gnn.train --config FILE.yaml``.
Each function takes the parsed :class:`argparse.Namespace` and returns the exit code.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from typing import Any


def _configure(config: Any, args: argparse.Namespace) -> Any:
    """Apply the command-line overrides (device, output, epochs) and validate."""
    if args.device is not None:
        config.device = args.device
    if args.output is not None:
        config.output = str(args.output)
    if args.epochs is not None:
        config.training.epochs = args.epochs
    config.validate(str(args.config))
    return config


def _report(result: Any) -> int:
    """Print the last epoch's metrics and the files a training run wrote."""
    if result.history:
        last = result.history[-1]
        summary = "  ".join(
            f"{k}={v:.4g}" for k, v in last.items() if k.startswith(("train", "val"))
        )
        print(f"epoch {int(last['epoch'])}: {summary}")
    print(f"outputs in {result.output} (config.yaml, checkpoints/, history.json)")
    for path in result.files:
        print(f"wrote {path}")
    return 0


def train_gnn_command(args: argparse.Namespace) -> int:
    """``train gnn`` (and ``python -m acts_gnn.train``): under torchrun only rank 0 reports."""
    from acts_gnn.train.config import load_config
    from acts_gnn.train.loop import train_gnn

    config = _configure(load_config(args.config), args)
    result = train_gnn(config, resume=args.resume, progress=False if args.quiet else None)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # under torchrun only the first process reports
    return _report(result)


def train_model_command(args: argparse.Namespace, model: str) -> int:
    """``train embedding`` / ``train filter`` (``model``): the same options as ``train gnn``."""
    from acts_gnn.train.config import load_config
    from acts_gnn.train.graph_config import EmbeddingTrainingConfig, FilterTrainingConfig

    progress = False if args.quiet else None
    if model == "embedding":
        from acts_gnn.train.embedding import train_embedding

        config = _configure(load_config(args.config, EmbeddingTrainingConfig), args)
        return _report(train_embedding(config, resume=args.resume, progress=progress))
    from acts_gnn.train.filter import train_filter

    config = _configure(load_config(args.config, FilterTrainingConfig), args)
    return _report(train_filter(config, resume=args.resume, progress=progress))


def train_vertex_command(args: argparse.Namespace) -> int:
    """``train vertex``: the pair network of the vertexing stage (``--resume`` unsupported)."""
    from acts_gnn.train.vertexing import load_vertex_config, train_vertex_pairs

    if args.resume:
        raise SystemExit("train vertex: --resume is not supported (training takes minutes)")
    config = load_vertex_config(args.config)
    if args.device is not None:
        config.device = args.device
    if args.output is not None:
        config.output = str(args.output)
    if args.epochs is not None:
        config.epochs = args.epochs
    config.validate(str(args.config))
    output = train_vertex_pairs(config, progress=False if args.quiet else None)
    history = json.loads((output / "history.json").read_text())
    print("last epoch: " + "  ".join(f"{k}={v:.4g}" for k, v in history[-1].items()))
    print(f"outputs in {output} (config.yaml, history.json, checkpoints/last.pt, vertex-pairs.*)")
    return 0


def parse_metadata(items: Sequence[str]) -> dict[str, Any]:
    """``["r=0.45", "k=200"]`` (``--metadata``) -> ``{"r": 0.45, "k": 200}`` (values are JSON)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--metadata takes KEY=JSON, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError as err:
            raise ValueError(f"--metadata {key}: {value!r} is not JSON ({err})") from None
    return out


def export_command(args: argparse.Namespace, n_chunks: int = 1) -> int:
    """``export gnn|embedding|filter``: the checkpoint's model (its type is read from it) to
    ``args.onnx`` and / or ``args.torchscript``, each verified against torch; the ONNX GNN
    evaluates its edge MLPs in ``n_chunks`` edge chunks."""
    from acts_gnn.train.export import export_checkpoint

    if args.onnx is None and args.torchscript is None:
        raise ValueError("nothing to do: give --onnx and/or --torchscript")
    if args.opset < 17:
        raise ValueError("--opset must be >= 17 (LayerNormalization, ScatterElements add)")
    for path in export_checkpoint(
        args.checkpoint,
        args.onnx,
        args.torchscript,
        n_chunks=n_chunks,
        opset=args.opset,
        metadata=parse_metadata(args.metadata),
    ):
        print(f"wrote {path} (verified against torch)")
    return 0
