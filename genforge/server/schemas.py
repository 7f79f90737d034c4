"""Request and response bodies of the REST API (they make the OpenAPI schema at /openapi.json)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


MAX_SEED = 2**53 - 1  # the largest integer every JSON client keeps exact


class ErrorOut(BaseModel):
    detail: str


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------ frames
class ImportOptions(Strict):
    """How a dataset is imported: the one declaration of these options (see ``store.import_options``)."""

    image_size: int | None = Field(None, ge=1, le=1024, description="Resize images to this square size.")
    channels: Literal[1, 3] | None = Field(None, description="Convert to 1 (grey) or 3 (RGB) channels.")
    on_error: Literal["raise", "skip"] = Field("raise", description="'skip' leaves out unreadable images.")

    def import_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``genforge.data.import_file`` (defaults left out)."""
        values = self.model_dump(exclude_none=True)
        if values.get("on_error") == "raise":
            del values["on_error"]
        return values


IMPORT_OPTIONS = tuple(ImportOptions.model_fields)


class FrameImport(ImportOptions):
    source: str = Field(..., min_length=1, max_length=4096,
                        description="A built-in dataset ('digits', 'fashion-mnist:train', ...) or a server-side "
                                    "path inside the configured roots (relative paths: the data dir's imports/).")
    name: str | None = Field(None, max_length=256, description="A display name (default: the source).")

    def options(self) -> dict[str, Any]:
        """The import options of this body, as sent (checked again by ``store.import_options``)."""
        return {k: getattr(self, k) for k in IMPORT_OPTIONS}


class FrameOut(BaseModel):
    id: str
    name: str
    source: str
    kind: str
    rows: int
    height: int
    width: int
    channels: int
    class_names: list[str] | None = None
    class_counts: dict[str, int] | None = None
    skipped: int = 0
    created: str


class DatasetOut(BaseModel):
    name: str
    description: str = ""
    available: bool
    rows: int | None = None


# ------------------------------------------------------------------------------ estimators and jobs
class ParamOut(BaseModel):
    name: str
    type: str
    default: Any = None
    help: str
    choices: list[Any] | None = None
    min: float | None = None
    max: float | None = None
    nullable: bool = False


class EstimatorOut(BaseModel):
    algo: str
    name: str
    description: str
    generator: bool
    parameters: list[ParamOut]


class JobCreate(Strict):
    algo: str = Field(..., min_length=1, max_length=32, description="An algorithm from GET /api/v1/estimators.")
    training_frame: str = Field(..., min_length=1, max_length=64, description="A frame id.")
    validation_frame: str | None = Field(None, max_length=64, description="A frame id, or null.")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Estimator parameters by name; "
                                       "'checkpoint' may name a model id to continue training from.")


class JobOut(BaseModel):
    id: str
    kind: Literal["train", "evaluate", "report", "automl", "grid", "search-worker"] = Field(
        "train", description="'train': a training run (its model in model_id when done); 'evaluate': "
                             "model_performance of the model model_id on training_frame (the scores in result); "
                             "'report': the model report of model_id (GET /api/v1/models/{id}/report.html when done); "
                             "'automl' / 'grid': a model search (its leaderboard at /api/v1/automl/{id}, its "
                             "leader in model_id); 'search-worker': more trials of the search named in parent.")
    algo: str
    status: Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]
    progress: float
    message: str
    training_frame: str
    validation_frame: str | None = None
    parameters: dict[str, Any]
    epoch: int
    epochs: int
    images_per_sec: float | None = None
    eta_secs: float | None = None
    metrics: dict[str, Any] | None = None
    history: list[dict[str, Any]]
    model_id: str | None = None
    result: EvaluateOut | ReportOut | dict[str, Any] | None = Field(
        None, description="An evaluate job's scores, a report job's summary or a search's summary, once it is done.")
    parent: str | None = Field(None, description="A search-worker's search.")
    created: str
    started: str | None = None
    finished: str | None = None


# ------------------------------------------------------------------------------ models
class ModelOut(BaseModel):
    id: str
    algo: str
    generator: bool
    parameters: dict[str, Any]
    frame_schema: dict[str, Any] | None = None
    metrics: dict[str, Any]
    history: list[dict[str, Any]] | None = None
    training_events: list[dict[str, Any]] | None = Field(
        None, description="What the divergence guard found and did during training: {epoch, step, kind "
                          "('nan', 'exploding', 'collapse'), evidence, action ('rollback', 'stop')} per event.")
    job_id: str | None = None
    source: str
    format: Literal["genforge", "onnx"] = Field(
        "genforge", description="'genforge': a model folder (model.json + weights.safetensors); 'onnx': an "
                                "exported generator (model.onnx), served for generation and inference only.")
    created: str


class GenerateIn(Strict):
    n: int = Field(16, ge=1, le=1024, description="Number of images (at most the server's limit, 1024 by default).")
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="Noise seed: the same seed gives the same images.")
    labels: int | str | list[int | str] | None = Field(
        None, description="Class (index or name) for every image, or one per image; conditional models only.")
    format: Literal["png", "zip", "json"] = "png"
    nrow: int | None = Field(None, ge=1, le=256, description="Images per row of the PNG grid.")
    steps: int | None = Field(None, ge=1, le=1000, description="Diffusion models: sampling steps (default 25).")
    sampler: Literal["ddpm", "ddim", "dpm++"] | None = Field(None, description="Diffusion models: the sampler "
                                                             "(default 'dpm++').")
    guidance_scale: float | None = Field(None, ge=0, le=50, description="Conditional diffusion models: "
                                         "classifier-free guidance scale (1 = none).")
    truncation: float | None = Field(None, gt=0, le=10, description="GANs: the truncation threshold of the noise "
                                     "(standard deviations; lower: more typical, less diverse images).")
    temperature: float | None = Field(None, gt=0, le=10, description="VAEs: the scale of the latent vectors "
                                      "(below 1: more typical, less diverse images).")

    def sampling_options(self) -> dict:
        """The sampling options that were given (a model that takes none refuses them by name)."""
        return {k: v for k, v in (("steps", self.steps), ("sampler", self.sampler),
                                  ("guidance_scale", self.guidance_scale), ("truncation", self.truncation),
                                  ("temperature", self.temperature)) if v is not None}


class GenerateOut(BaseModel):
    n: int
    shape: list[int]
    labels: list[int] | None = None
    class_names: list[str] | None = None
    images: list[Any]


class InterpolateIn(Strict):
    seed_a: int = Field(0, ge=0, le=2**53 - 1, description="Noise seed of the walk's first image.")
    seed_b: int = Field(1, ge=0, le=2**53 - 1, description="Noise seed of the walk's last image.")
    steps: int = Field(8, ge=2, le=64, description="Images along the (spherical) path, both ends included.")
    label: int | str | None = Field(None, description="Class (index or name) of every image; conditional models only.")


class EvaluateIn(Strict):
    frame: str = Field(..., min_length=1, max_length=64, description="A frame id to score the model on.")


class EvaluateOut(BaseModel):
    model_id: str
    frame: str
    metrics: dict[str, Any]


class ReportIn(Strict):
    frame: str = Field(..., min_length=1, max_length=64, description="A frame id: held-out real images.")
    training_frame: str | None = Field(None, min_length=1, max_length=64,
                                       description="A frame id: the model's training images (for Copies and Bias).")
    samples: int = Field(2000, ge=50, le=50000, description="Generated images the report scores.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Noise seed of the generated images.")


class ReportOut(BaseModel):
    model_id: str
    frame: str
    training_frame: str | None = None
    samples: int
    seconds: dict[str, float]
    total_seconds: float
    skipped: dict[str, str] = Field(default_factory=dict, description="Sections the inputs did not allow, and why.")


class TraverseIn(Strict):
    direction: str = Field("pc1", min_length=2, max_length=80, pattern=r"^(pc\d{1,2}|class:.+)$",
                           description="'pc1'..'pc20' (a main direction) or 'class:NAME' (toward a class).")
    seed: int = Field(0, ge=0, le=2**53 - 1, description="Noise seed of the first row's latent vector.")
    rows: int = Field(1, ge=1, le=8, description="Rows of the grid: latent vectors of seeds seed, seed+1, ...")
    steps: int = Field(9, ge=2, le=64, description="Images per row, from -scale to +scale along the direction.")
    scale: float = Field(3.0, gt=0, le=100, description="How far to walk, in standard deviations of the prior.")
    label: int | str | None = Field(None, description="Class (index or name) of every image; conditional models only.")


# ------------------------------------------------------------------------------ Open Inference Protocol v2
class TensorIn(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: list[Any] | None = None  # None: sent as raw bytes (parameters.binary_data_size)


class TensorOut(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = None  # binary_data_size, when the data follows the JSON as raw bytes
    data: list[Any] | None = None


class RequestedOutput(BaseModel):
    name: str
    parameters: dict[str, Any] | None = None


class InferIn(BaseModel):
    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[TensorIn]
    outputs: list[RequestedOutput] | None = None


class InferOut(BaseModel):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: dict[str, Any] | None = None
    outputs: list[TensorOut]


class TensorMeta(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class ModelMetaV2(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMeta]
    outputs: list[TensorMeta]


class ErrorV2(BaseModel):
    error: str
