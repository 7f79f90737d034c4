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
diff-  ``sample`` float32 [N, C, H, W]; ``timestep``     ``model_output`` float32 [N, C, H, W]: the
usion  int64 [N]; ``class_labels`` int64 [N]            denoiser's noise (or velocity) prediction; the
       (conditional; index num_classes = no label)      metadata's ``scheduler`` is its noise schedule
cnn    ``images`` float32 [N, C, H, W] in [-1, 1]       ``probabilities`` float32 [N, classes] (softmax)
====== =============================================== =================================================

Pixels are ``uint8 = round((x + 1) * 127.5)`` clipped to 0..255, and channels-last for a PNG; the
:class:`~genforge.artifacts.onnx_runtime.OnnxGenerator` runtime does that conversion. The file's metadata
(``metadata_props``) records the estimator, shapes, class names and this convention.

Each estimator supplies its graph through its public ``onnx_graph()`` (see ``genforge.nets.export``).
Needs the ``onnx`` package (``pip install genforge[onnx]``); torch's TorchScript-based exporter is used
(``dynamo=False``), which needs nothing else.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from genforge._version import __version__
from genforge.errors import GenforgeError
from genforge.files import claim_path
from genforge.estimators.base import Estimator

OPSET = 17


def export_onnx(model: Estimator, path: str | Path, opset: int = OPSET, force: bool = False) -> Path:
    """Write ``model``'s inference network to ``path`` (an ``.onnx`` file) and return the path; an existing
    file is replaced only with ``force=True``.

    GAN and VAE files map noise ``z`` (and ``label``) to float images in [-1, 1], NCHW, the same numbers
    the PyTorch module gives; CNN files map such images to class probabilities. See the module docstring.
    """
    if not isinstance(model, Estimator):
        raise GenforgeError(f"export_onnx needs a genforge estimator, got {type(model).__name__}.")
    graph = model.onnx_graph()  # each estimator knows its inference network (and is fitted)
    path = claim_path(path, force, "ONNX file")  # an existing file only with force=True
    try:
        import onnx
    except ImportError:
        raise GenforgeError("export_onnx needs the onnx package: pip install 'genforge[onnx]' (or onnx).") from None
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
        graph.module.to(model.compute_device)
    proto = onnx.load(str(path))
    schema = model.frame_schema or {}
    meta = {
        "genforge_version": __version__,
        "estimator": model.algo,
        "model_id": model.model_id or "",
        "image_shape": json.dumps([schema.get("channels"), schema.get("height"), schema.get("width")]),
        "class_names": json.dumps(schema.get("class_names")),
        "output": ("probabilities float32 [N, classes]" if "probabilities" in graph.output_names
                   else "model_output float32 [N, C, H, W]: the denoiser's prediction; sample with OnnxGenerator"
                   if "model_output" in graph.output_names
                   else "images float32 [N, C, H, W] in [-1, 1]; uint8 = round((x + 1) * 127.5)"),
        **{k: json.dumps(v) for k, v in graph.metadata.items()},
    }
    onnx.helper.set_model_props(proto, meta)
    onnx.save(proto, str(path))
    return path
