"""Multi-layer perceptrons: the building block of every network in :mod:`acts_gnn.nn`.

A stack ``Linear -> [LayerNorm] -> activation`` per hidden layer; the output layer is a
``Linear`` followed by optional output normalisation and activation. Everything here is plain
``torch.nn`` (``Sequential`` of standard layers), so it scripts with TorchScript and exports to
ONNX with any opset >= 17 (where ``LayerNormalization`` is a native ONNX operator).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

#: Activation names accepted by :func:`make_mlp` (the ``torch.nn`` class names).
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "ReLU": nn.ReLU,
    "SiLU": nn.SiLU,
    "Tanh": nn.Tanh,
    "GELU": nn.GELU,
    "LeakyReLU": nn.LeakyReLU,
    "ELU": nn.ELU,
    "Sigmoid": nn.Sigmoid,
}


def activation(name: str | None) -> nn.Module | None:
    """The activation module called ``name`` (a ``torch.nn`` class name), or None for None."""
    if name is None or name in {"", "None", "none", "Identity"}:
        return None
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}"
        ) from None


def make_mlp(
    input_size: int,
    sizes: Sequence[int],
    hidden_activation: str | None = "SiLU",
    output_activation: str | None = None,
    layer_norm: bool = True,
    output_layer_norm: bool = False,
) -> nn.Sequential:
    """An MLP ``input_size -> sizes[0] -> ... -> sizes[-1]``.

    Every layer but the last is ``Linear -> LayerNorm (if layer_norm) -> hidden_activation``;
    the last is ``Linear -> LayerNorm (if output_layer_norm) -> output_activation (if any)``.
    Input [..., input_size], output [..., sizes[-1]].
    """
    if input_size <= 0:
        raise ValueError(f"MLP input size must be positive, got {input_size}")
    if not sizes or any(s <= 0 for s in sizes):
        raise ValueError(f"MLP layer sizes must be positive and non-empty, got {list(sizes)}")
    activation(hidden_activation), activation(output_activation)  # validate both names
    layers: list[nn.Module] = []
    n_in = input_size
    for i, n_out in enumerate(sizes):
        last = i == len(sizes) - 1
        layers.append(nn.Linear(n_in, n_out))
        if (layer_norm and not last) or (output_layer_norm and last):
            layers.append(nn.LayerNorm(n_out))
        act = activation(output_activation if last else hidden_activation)
        if act is not None:
            layers.append(act)
        n_in = n_out
    return nn.Sequential(*layers)


def reset_mlp(mlp: nn.Module) -> None:
    """Re-initialise every ``Linear`` and ``LayerNorm`` in ``mlp`` (torch defaults)."""
    for module in mlp.modules():
        if isinstance(module, (nn.Linear, nn.LayerNorm)):
            module.reset_parameters()
