"""Command-line front ends of training and export (used by ``acts-gnn`` and ``python -m``).

``acts-gnn train gnn|embedding|filter --config FILE.yaml [--resume] [--device cpu|cuda] [--output DIR]``
``acts-gnn export gnn|embedding|filter --checkpoint FILE.pt [--onnx FILE.onnx] [--torchscript FILE.pt]``

The same training runs as ``python -m acts_gnn.train --config FILE.yaml``, which is handy
with torchrun: ``torchrun --nproc_per_node=4 -m acts_gnn.train --config FILE.yaml``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def add_train_gnn_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", type=Path, required=True, help="training config (YAML)")
    p.add_argument(
        "--resume", action="store_true", help="continue from <output>/checkpoints/last.pt"
    )
    p.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:N or auto (overrides the config)"
    )
    p.add_argument("--output", "-o", default=None, help="output folder (overrides the config)")
    p.add_argument("--epochs", type=int, default=None, help="number of epochs (overrides)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


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


def cmd_train_gnn(args: argparse.Namespace) -> int:
    from acts_gnn.train.config import load_config
    from acts_gnn.train.loop import train_gnn

    config = _configure(load_config(args.config), args)
    result = train_gnn(config, resume=args.resume, progress=False if args.quiet else None)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # under torchrun only the first process reports
    return _report(result)


def _train_other(args: argparse.Namespace, model: str) -> int:
    """``train embedding`` / ``train filter``: the same options as ``train gnn``."""
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


def cmd_train_embedding(args: argparse.Namespace) -> int:
    return _train_other(args, "embedding")


def cmd_train_filter(args: argparse.Namespace) -> int:
    return _train_other(args, "filter")


def add_export_model_arguments(p: argparse.ArgumentParser) -> None:
    """``export embedding`` / ``export filter``: checkpoint in, ONNX and / or TorchScript out."""
    p.add_argument(
        "--checkpoint", type=Path, required=True, help="training checkpoint (e.g. last.pt)"
    )
    p.add_argument("--onnx", type=Path, default=None, help="write this ONNX file")
    p.add_argument("--torchscript", type=Path, default=None, help="write this TorchScript file")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (>= 17; default 17)")
    add_metadata_argument(p)


def add_metadata_argument(p: argparse.ArgumentParser) -> None:
    """``--metadata KEY=JSON`` (repeatable), read by :func:`parse_metadata`."""
    p.add_argument(
        "--metadata",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="replace a recorded metadata value, e.g. r=0.55 and k=300 for an embedding's "
        "operating point or score_cut=0.2 for a filter (repeatable; KEY must exist in the "
        "checkpoint)",
    )


def parse_metadata(items: Sequence[str]) -> dict[str, Any]:
    """``["r=0.45", "k=200"]`` -> ``{"r": 0.45, "k": 200}`` (values are JSON)."""
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


def cmd_export_model(args: argparse.Namespace) -> int:
    """Export an embedding or filter checkpoint (the model type is read from it)."""
    args.chunks = 1
    return cmd_export_gnn(args)


def add_export_gnn_arguments(p: argparse.ArgumentParser) -> None:
    """``export gnn``: those of :func:`add_export_model_arguments`, plus ``--chunks``."""
    add_export_model_arguments(p)
    p.add_argument(
        "--chunks",
        type=int,
        default=1,
        help="ONNX: evaluate the edge MLPs in this many edge chunks (exact; less memory)",
    )


def cmd_export_gnn(args: argparse.Namespace) -> int:
    from acts_gnn.train.export import export_checkpoint

    if args.onnx is None and args.torchscript is None:
        raise ValueError("nothing to do: give --onnx and/or --torchscript")
    if args.opset < 17:
        raise ValueError("--opset must be >= 17 (LayerNormalization, ScatterElements add)")
    for path in export_checkpoint(
        args.checkpoint,
        args.onnx,
        args.torchscript,
        n_chunks=args.chunks,
        opset=args.opset,
        metadata=parse_metadata(args.metadata),
    ):
        print(f"wrote {path} (verified against torch)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m acts_gnn.train``: train the GNN (torchrun-friendly)."""
    parser = argparse.ArgumentParser(
        prog="python -m acts_gnn.train", description="train the GNN edge classifier"
    )
    add_train_gnn_arguments(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="info logging")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return cmd_train_gnn(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"acts-gnn train gnn: {err}", file=sys.stderr)
        return 2
