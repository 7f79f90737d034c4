"""The Open Inference Protocol v2 (KServe / Triton REST) for every generator on the server.

A model's name is its id, or a served name (``/api/v1/served``: a search's project name serves the model
chosen on its leaderboard). Inputs: ``z`` (FP32, ``[-1, latent_dim]``) and, for conditional models, an
optional ``label`` (INT64, ``[-1]``); output: ``images`` (UINT8, ``[-1, H, W, C]``), row-major flat data.
Bodies are read as the standard clients send them (``genforge.server.v2_codec``): any Content-Type, and the
binary tensor data extension for inputs and outputs.
Request ``parameters``: ``seed`` and ``n`` instead of a ``z`` input (the model's own noise for that seed);
for diffusion models (whose z is the initial noise, C*H*W values) ``steps``, ``sampler`` and
``guidance_scale``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from genforge._version import __version__
from genforge.server.db import ModelRow
from genforge.server.deps import Context, get_ctx, is_generator
from genforge.server.errors import ApiError
from genforge.server.schemas import MAX_SEED, ErrorV2, InferOut, ModelMetaV2
from genforge.server.v2_codec import InferRequest, infer_body_schema, infer_response, read_infer_request, tensor_array

router = APIRouter(prefix="/v2", tags=["inference (v2)"])
health = APIRouter(prefix="/v2", tags=["inference (v2)"])
ERRORS = {code: {"model": ErrorV2} for code in (400, 404, 422)}
VERSION = "1"


@health.get("/health/live", summary="Liveness (open even when an API key is set)")
def live() -> dict[str, bool]:
    return {"live": True}


@router.get("/health/ready", summary="Readiness: the database answers")
def ready(ctx: Context = Depends(get_ctx)) -> Response:
    # The protocol's clients read readiness from the status code (200 = ready), not from the body.
    ok = ctx.db.ping()
    return Response(f'{{"ready":{str(ok).lower()}}}', status_code=200 if ok else 503, media_type="application/json")


@router.get("", summary="Server metadata")
def server_meta() -> dict[str, Any]:
    return {"name": "genforge", "version": __version__, "extensions": ["binary_tensor_data"]}


def _generator(ctx: Context, name: str):
    """The model ``name`` names: a model id, else a served name (/api/v1/served) and the model it points at."""
    from genforge.server.leaderboard import resolve_served

    try:
        row = ctx.repo.model(name)
    except ApiError:
        served = resolve_served(ctx.db, name)
        row = ctx.repo.find(ModelRow, served) if served else None
        if row is None:
            raise ApiError(404, f"model {name!r} not found; list the models at /api/v1/models and the served names "
                                "at /api/v1/served.") from None
    if not is_generator(row.algo):
        raise ApiError(404, f"model {name!r} is a {row.algo!r} model; only generators are served by the v2 protocol.")
    return row, ctx.stores.model(row.id, row.path, row.format)


def _check_version(version: str) -> None:
    if version != VERSION:
        raise ApiError(404, f"version {version!r} not found; models have the one version {VERSION!r}.")


def metadata(ctx: Context, name: str) -> dict[str, Any]:
    row, model = _generator(ctx, name)
    schema = row.frame_schema or {}
    inputs = [{"name": "z", "datatype": "FP32", "shape": [-1, int(model.latent_size)]}]
    if model.num_classes:
        inputs.append({"name": "label", "datatype": "INT64", "shape": [-1]})
    output = [-1, schema.get("height", -1), schema.get("width", -1), schema.get("channels", -1)]
    platform = "onnxruntime_onnx" if row.format == "onnx" else f"genforge_{row.algo}"
    return {"name": name, "versions": [VERSION], "platform": platform,
            "inputs": inputs, "outputs": [{"name": "images", "datatype": "UINT8", "shape": output}]}


@router.get("/models/{name}", response_model=ModelMetaV2, responses=ERRORS, summary="Model metadata")
def model_meta(name: str, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    return metadata(ctx, name)


@router.get("/models/{name}/versions/{version}", response_model=ModelMetaV2, responses=ERRORS,
            summary="Model metadata (one version)")
def model_meta_version(name: str, version: str, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    _check_version(version)
    return metadata(ctx, name)


@router.get("/models/{name}/ready", responses=ERRORS, summary="Model readiness")
def model_ready(name: str, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    _generator(ctx, name)
    return {"name": name, "ready": True}


@router.get("/models/{name}/versions/{version}/ready", responses=ERRORS, summary="Model readiness (one version)")
def model_ready_version(name: str, version: str, ctx: Context = Depends(get_ctx)) -> dict[str, Any]:
    _check_version(version)
    return model_ready(name, ctx)


def infer(ctx: Context, name: str, request: InferRequest) -> Response:
    row, model = _generator(ctx, name)
    body = request.body
    inputs = {t.name: t for t in body.inputs}
    parameters = dict(body.parameters or {})
    unknown = set(inputs) - {"z", "label"}
    if unknown or len(inputs) != len(body.inputs) or ("z" not in inputs and "seed" not in parameters):
        raise ApiError(400, f"inputs: expected 'z' (FP32, [-1, {model.latent_size}]) or a 'seed' parameter, and "
                            f"optionally 'label' (INT64, [-1]), each once; got {[t.name for t in body.inputs]}.")
    options = _sampling_options(parameters)
    if "z" in inputs:
        if inputs["z"].datatype.upper() not in ("FP32", "FP64", "FP16"):
            raise ApiError(400, f"input 'z': datatype must be FP32, got {inputs['z'].datatype!r}.")
        z = tensor_array(inputs["z"], request.binary.get("z"), np.dtype(np.float32))
    else:
        z = _seeded_noise(ctx, model, parameters)
    if z.ndim != 2 or z.shape[1] != model.latent_size or len(z) == 0:
        raise ApiError(400, f"input 'z': shape must be [N, {model.latent_size}] with N >= 1, got {list(z.shape)}.")
    if len(z) > ctx.settings.max_generate:
        raise ApiError(400, f"input 'z': at most {ctx.settings.max_generate} rows per request, got {len(z)}.")
    labels = None
    if "label" in inputs:
        if inputs["label"].datatype.upper() not in ("INT64", "INT32"):
            raise ApiError(400, f"input 'label': datatype must be INT64, got {inputs['label'].datatype!r}.")
        labels = tensor_array(inputs["label"], request.binary.get("label"), np.dtype(np.int64)).reshape(-1)
        if len(labels) != len(z):
            raise ApiError(400, f"input 'label': {len(labels)} labels for {len(z)} rows of z; pass one per row.")
    if body.outputs and any(o.name != "images" for o in body.outputs):
        raise ApiError(400, "outputs: this model has the one output 'images'.")
    images = np.asarray(model.predict(z, labels=labels, **options).images, dtype=np.uint8)
    return infer_response({"model_name": name, "model_version": VERSION, "id": body.id},
                          {"images": images}, request)


_SAMPLING = {"steps": int, "sampler": str, "guidance_scale": float}
# Request parameters of the protocol itself (the binary tensor data extension), read by v2_codec.
PROTOCOL_PARAMETERS = {"binary_data_output"}


def _sampling_options(parameters: dict[str, Any]) -> dict[str, Any]:
    """The request's sampling parameters (diffusion models), typed; the model checks their values."""
    unknown = set(parameters) - set(_SAMPLING) - {"seed", "n"} - PROTOCOL_PARAMETERS
    if unknown:
        raise ApiError(400, f"parameters: unknown {sorted(unknown)}; known: seed, n, {', '.join(_SAMPLING)}.")
    options = {}
    for name, kind in _SAMPLING.items():
        if name not in parameters:
            continue
        value = parameters[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ApiError(400, f"parameter {name!r} must be of type {kind.__name__}, got {value!r}.")
        options[name] = value
    return options


def _seeded_noise(ctx: Context, model: Any, parameters: dict[str, Any]) -> np.ndarray:
    seed, n = parameters.get("seed"), parameters.get("n", 1)
    for name, value in (("seed", seed), ("n", n)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ApiError(400, f"parameter {name!r} must be a non-negative integer, got {value!r}.")
    if not 1 <= n <= ctx.settings.max_generate:
        raise ApiError(400, f"parameter 'n': from 1 to {ctx.settings.max_generate} images per request, got {n}.")
    if seed > MAX_SEED:
        raise ApiError(400, f"parameter 'seed': at most {MAX_SEED}, got {seed}.")
    return model.noise(n, seed=seed)


# The body is read by v2_codec (any Content-Type, binary tensors too), so FastAPI is told its schema only.
INFER = {"response_model": InferOut, "responses": {**ERRORS, 200: {"content": {"application/octet-stream": {}}}},
         "openapi_extra": {"requestBody": infer_body_schema()}}


@router.post("/models/{name}/infer", summary="Generate images from z", **INFER)
async def model_infer(name: str, request: Request, ctx: Context = Depends(get_ctx)) -> Response:
    parsed = await read_infer_request(request)
    return await run_in_threadpool(infer, ctx, name, parsed)


@router.post("/models/{name}/versions/{version}/infer", summary="Generate images from z (one version)", **INFER)
async def model_infer_version(name: str, version: str, request: Request, ctx: Context = Depends(get_ctx)) -> Response:
    _check_version(version)
    parsed = await read_infer_request(request)
    return await run_in_threadpool(infer, ctx, name, parsed)
