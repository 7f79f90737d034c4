"""``export_onnx``: a trained model's inference network as an ONNX file that onnxruntime runs.

What each estimator exports (batch axis dynamic everywhere, float32, NCHW like the PyTorch modules):

====== =============================================== =================================================
algo   inputs                                          output
====== =============================================== =================================================
gan    ``z`` float32 [N, latent]; ``label`` int64 [N]    ``images`` float32 [N, C, H, W] in [-1, 1]: the
       (conditional models only)                        generator's own output (its EMA copy when trained
                                                        with one, as ``predict`` uses)
vae    ``z`` float32 [N, latent]; ``label`` int64 [N]    ``images`` float32 [N, C, H, W] in [-1, 1]: the
       (conditional models only)                        decoder's images, as ``decode`` makes them
cnn    ``images`` float32 [N, C, H, W] in [-1, 1]       ``probabilities`` float32 [N, classes] (softmax)
====== =============================================== =================================================

Pixels are ``uint8 = round((x + 1) * 127.5)`` clipped to 0..255, and channels-last for a PNG; the
:class:`~genforge.artifacts.onnx_runtime.OnnxGenerator` runtime does that conversion. The file's metadata
(``metadata_props``) records the estimator, shapes, class names and this convention.

Needs the ``onnx`` package (``pip install genforge[onnx]``); torch's TorchScript-based exporter is used
(``dynamo=False``), which needs nothing else.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from genforge._version import __version__
from genforge.errors import GenforgeError, ParameterError
from genforge.files import claim_path
from genforge.estimators.base import Estimator

OPSET = 17


@dataclass
class OnnxGraph:
    """What one estimator exports: a module, example inputs and the names of inputs and outputs."""

    module: nn.Module
    inputs: tuple[torch.Tensor, ...]
    input_names: list[str]
    output_names: list[str]
    metadata: dict


class _Generator(nn.Module):
    """z (and label) -> images in [-1, 1]; ``post`` turns a decoder's raw output into images."""

    def __init__(self, net: nn.Module, conditional: bool, post: Callable | None = None) -> None:
        super().__init__()
        self.net, self.conditional, self.post = net, conditional, post

    def forward(self, z: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        out = self.net(z, label if self.conditional else None)
        return self.post(out) if self.post is not None else out


class _Classifier(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(images).float(), dim=1)


def _latent_inputs(latent: int, num_classes: int) -> tuple[tuple[torch.Tensor, ...], list[str]]:
    z = torch.zeros(2, latent)
    if num_classes:
        return (z, torch.zeros(2, dtype=torch.long)), ["z", "label"]
    return (z,), ["z"]


def _gan_graph(model: Estimator) -> OnnxGraph:
    net = model._modules.get("generator_ema") or model._modules["generator"]
    num_classes = int(model._info["num_classes"])
    inputs, names = _latent_inputs(int(model._info["latent_dim"]), num_classes)
    return OnnxGraph(_Generator(net, bool(num_classes)), inputs, names, ["images"],
                     {"latent_dim": int(model._info["latent_dim"]), "num_classes": num_classes})


def _vae_graph(model: Estimator) -> OnnxGraph:
    from genforge.nets.vae import to_images

    loss = model._loss_name
    num_classes = int(model._info.get("num_classes") or 0)
    latent = int(model.latent_size)
    inputs, names = _latent_inputs(latent, num_classes)
    return OnnxGraph(_Generator(model._modules["decoder"], bool(num_classes), lambda x: to_images(x, loss)),
                     inputs, names, ["images"], {"latent_dim": latent, "num_classes": num_classes})


def _cnn_graph(model: Estimator) -> OnnxGraph:
    schema = model._info["frame_schema"]
    example = torch.zeros(2, schema["channels"], schema["height"], schema["width"])
    return OnnxGraph(_Classifier(model._modules["classifier"]), (example,), ["images"], ["probabilities"],
                     {"num_classes": len(schema.get("class_names") or [])})


# Keyed by estimator name (``Estimator.algo``). An estimator may instead define ``_onnx_graph()``.
EXPORTERS: dict[str, Callable[[Estimator], OnnxGraph]] = {"gan": _gan_graph, "vae": _vae_graph, "cnn": _cnn_graph}


def export_onnx(model: Estimator, path: str | Path, opset: int = OPSET, force: bool = False) -> Path:
    """Write ``model``'s inference network to ``path`` (an ``.onnx`` file) and return the path.

    GAN and VAE files map noise ``z`` (and ``label``) to float images in [-1, 1], NCHW, the same numbers
    the PyTorch module gives; CNN files map such images to class probabilities. See the module docstring.
    """
    if not isinstance(model, Estimator):
        raise GenforgeError(f"export_onnx needs a genforge estimator, got {type(model).__name__}.")
    model._require_fitted()
    path = claim_path(path, force, "ONNX file")  # an existing file only with force=True
    try:
        import onnx
    except ImportError:
        raise GenforgeError("export_onnx needs the onnx package: pip install 'genforge[onnx]' (or onnx).") from None
    builder = getattr(model, "_onnx_graph", None) or (lambda: EXPORTERS[model.algo](model))
    if getattr(model, "_onnx_graph", None) is None and model.algo not in EXPORTERS:
        raise ParameterError(f"a {model.algo!r} model cannot be exported to ONNX (supported: {', '.join(EXPORTERS)}).")
    graph = builder()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = graph.module.to("cpu").eval()
    was_training = {m: m.training for m in module.modules()}
    dynamic = {name: {0: "batch"} for name in graph.input_names + graph.output_names}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # Shape and label checks inside the networks are Python conditions that tracing records as
            # constants; they have already passed for the example inputs and only guard the PyTorch path.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            # dynamo=False is deliberate (no onnxscript needed); torch warns that it is the legacy path.
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(module, graph.inputs, str(path), input_names=graph.input_names,
                              output_names=graph.output_names, dynamic_axes=dynamic, opset_version=opset,
                              dynamo=False)
    finally:
        for m, training in was_training.items():
            m.train(training)
        graph.module.to(model._device)
    proto = onnx.load(str(path))
    schema = model._info.get("frame_schema") or {}
    meta = {
        "genforge_version": __version__,
        "estimator": model.algo,
        "model_id": model.model_id or "",
        "image_shape": json.dumps([schema.get("channels"), schema.get("height"), schema.get("width")]),
        "class_names": json.dumps(schema.get("class_names")),
        "output": ("probabilities float32 [N, classes]" if "probabilities" in graph.output_names
                   else "images float32 [N, C, H, W] in [-1, 1]; uint8 = round((x + 1) * 127.5)"),
        **{k: json.dumps(v) for k, v in graph.metadata.items()},
    }
    onnx.helper.set_model_props(proto, meta)
    onnx.save(proto, str(path))
    return path
