"""Request and response bodies of the AutoML and grid search routes (``routes_search``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from genforge.server.schemas import MAX_SEED, JobOut, Strict

SortMetric = Literal["fid", "kid", "precision", "recall", "coverage", "memorization"]
NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MAX_RUNTIME = 30 * 24 * 3600.0  # a month: a longer budget is a typo
FRAME = Field(None, max_length=64, description="A frame id, or null.")


class SearchFrames(Strict):
    training_frame: str = Field(..., min_length=1, max_length=64, description="A frame id to train on.")
    validation_frame: str | None = FRAME
    evaluator: str | None = Field(None, max_length=128, description="The feature extractor behind the scores: a "
                                  "built-in evaluator (digits, fashion-mnist) or the id of a CNN model on this server; "
                                  "default: the built-in one that fits the frame.")
    workers: int = Field(1, ge=1, le=64, description="Trainings of this search run at once (at most the server's "
                                                     "--max-jobs; each is one job slot).")


class AutoMLCreate(SearchFrames):
    leaderboard_frame: str | None = Field(None, max_length=64, description="A frame id that ranks the models "
                                          "(default: the validation frame, else the training frame).")
    max_runtime_secs: float = Field(..., gt=0, le=MAX_RUNTIME, description="The search's whole time budget.")
    max_models: int | None = Field(None, ge=1, le=10_000, description="Stop after this many candidates.")
    include_algos: list[str] | None = Field(None, max_length=16, description="Only these algorithms (gan, vae, "
                                            "diffusion, ...).")
    exclude_algos: list[str] | None = Field(None, max_length=16, description="Leave these algorithms out.")
    sort_metric: SortMetric = Field("fid", description="The score that ranks the leaderboard.")
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    project_name: str | None = Field(None, pattern=NAME, description="The name the chosen model is served under "
                                     "(/v2/models/{project_name}); default: the search's id.")
    memorization_threshold: float | None = Field(None, ge=0, le=1, description="Models whose memorization rate is "
                                                 "above this are flagged and never lead (default: 0.1).")
    min_epochs: int | None = Field(None, ge=1, le=10_000, description="Epochs of the first rung (default: about "
                                   "300 steps).")
    rungs: int | None = Field(None, ge=1, le=6, description="Successive-halving rungs (default 3).")
    reduction_factor: int | None = Field(None, ge=2, le=10, description="Each rung keeps the best 1/this and "
                                         "trains them this many times longer (default 3).")
    score_samples: int | None = Field(None, ge=10, le=50_000, description="Generated images behind each score "
                                      "(default 1000).")
    fixed_params: dict[str, Any] | None = Field(None, description="Estimator parameters every candidate takes "
                                                "(e.g. {\"device\": \"cpu\"}), left out of the search.")


class SearchCriteria(Strict):
    """H2OGridSearch's search_criteria; ``stopping_metric`` also ranks the grid's models (default fid)."""

    strategy: Literal["Cartesian", "RandomDiscrete"] = "Cartesian"
    max_models: int | None = Field(None, ge=1, le=10_000)
    max_runtime_secs: float | None = Field(None, gt=0, le=MAX_RUNTIME)
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    stopping_metric: SortMetric | None = None
    stopping_rounds: int | None = Field(None, ge=0, le=1000)
    stopping_tolerance: float | None = Field(None, ge=0, le=1)


class GridCreate(SearchFrames):
    algo: str = Field(..., min_length=1, max_length=32, description="An algorithm from GET /api/v1/estimators.")
    parameters: dict[str, Any] = Field(default_factory=dict, description="The fixed base parameters.")
    hyper_params: dict[str, list[Any]] = Field(..., min_length=1, max_length=32,
                                               description="Parameter name -> the values to try.")
    search_criteria: SearchCriteria | None = None
    leaderboard_frame: str | None = Field(None, max_length=64, description="A frame id that ranks the models.")
    grid_id: str | None = Field(None, pattern=NAME, description="The name the chosen model is served under; "
                                "default: the search's id.")
    memorization_threshold: float | None = Field(None, ge=0, le=1, description="As for AutoML (default 0.1).")
    score_samples: int | None = Field(None, ge=10, le=50_000, description="Generated images behind each score.")


class LeaderboardEntry(BaseModel):
    model_id: str | None = Field(None, description="The server's model (GET /api/v1/models/{id}); null when the "
                                                   "candidate made none.")
    candidate: str
    algo: str
    status: Literal["ok", "failed", "collapsed", "diverged", "memorizes"]
    reason: str
    fid: float | None = None
    kid: float | None = None
    precision: float | None = None
    recall: float | None = None
    coverage: float | None = None
    memorization: float | None = None
    classes_covered: float | None = None
    training_secs: float | None = None
    images_per_sec: float | None = None
    epochs: float | None = Field(None, description="The budget the candidate was trained for.")
    rung: float | None = Field(None, description="The successive-halving rung it reached (AutoML).")
    params: dict[str, Any] | None = None
    created: str
    updated: str


class ServedOut(BaseModel):
    name: str
    model_id: str
    search_id: str | None = None
    chosen: bool = Field(False, description="Set by a user (a search's end names its leader only when nobody chose).")
    updated: str


class SearchOut(BaseModel):
    id: str
    kind: Literal["automl", "grid"]
    status: str
    message: str
    progress: float
    spec: dict[str, Any] = Field(description="The search as it was asked for.")
    project_name: str = Field(description="The served name of its chosen model (/v2/models/{project_name}).")
    sort_metric: str
    models: int = Field(description="Candidates on the leaderboard.")
    leader: LeaderboardEntry | None = None
    served: ServedOut | None = None
    job: JobOut
    workers: list[JobOut] = Field(default_factory=list, description="Its extra trial processes (workers > 1).")


class LeaderboardOut(BaseModel):
    search_id: str
    status: str
    sort_by: str
    decreasing: bool
    leader: str | None = Field(None, description="The leader's model id.")
    served: str | None = Field(None, description="The model id served under the project name.")
    rows: list[LeaderboardEntry]


class ServeIn(Strict):
    model_id: str = Field(..., min_length=1, max_length=128, description="A model id on this search's leaderboard.")


class ServedIn(Strict):
    model_id: str = Field(..., min_length=1, max_length=128, description="A generator's model id.")
