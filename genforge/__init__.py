"""genforge: an open platform for generative image models on PyTorch.

    import genforge as gf
    frame = gf.import_file("fashion-mnist")
    gan = gf.GANEstimator(epochs=5, seed=7).train(training_frame=frame)
    gan.predict(64).to_png("samples.png")
    gf.load_model(gf.save_model(gan, "models"))
    aml = gf.AutoML(max_runtime_secs=600).train(training_frame=frame)   # a leaderboard; aml.leader
    conn = gf.init()                     # a local server (started if none answers), as h2o.init()
"""

from genforge._version import __version__
from genforge.artifacts import export_onnx, load_model, save_model
from genforge.data import import_file, list_datasets
from genforge.errors import DataError, GenforgeError, ModelFormatError, NotFittedError, ParameterError, TrainingError
from genforge.estimators import CNNEstimator, DiffusionEstimator, GANEstimator, VAEEstimator, clone
from genforge.frame import Frame
from genforge import metrics  # gf.metrics.evaluate, gf.metrics.fid, ...
from genforge.selection import AutoML, GridSearch  # Optuna when trained
from genforge import report  # model.report(frame, path), model.latent_directions(k), ... (installs them)
from genforge.session import connect, connection, get_frame, get_model, init, ls, remove, shutdown  # httpx when called
from genforge.table import Table

__all__ = [
    "__version__",
    "Frame",
    "Table",
    "metrics",
    "report",
    "import_file",
    "list_datasets",
    "GANEstimator",
    "VAEEstimator",
    "CNNEstimator",
    "DiffusionEstimator",
    "clone",
    "GridSearch",
    "AutoML",
    "save_model",
    "load_model",
    "export_onnx",
    "connect",
    "init",
    "connection",
    "ls",
    "get_frame",
    "get_model",
    "remove",
    "shutdown",
    "GenforgeError",
    "DataError",
    "ParameterError",
    "NotFittedError",
    "TrainingError",
    "ModelFormatError",
]
