"""Estimators: GAN, VAE, diffusion and CNN behind one scikit-learn / H2O style contract (``base``), the generators
sharing one generator base (``generator``); looked up by algorithm name in ``registry``."""

from genforge.estimators.base import Estimator, clone
from genforge.estimators.cnn import CNNEstimator
from genforge.estimators.diffusion import DiffusionEstimator
from genforge.estimators.gan import GANEstimator
from genforge.estimators.registry import ESTIMATORS, get_estimator
from genforge.estimators.vae import VAEEstimator

__all__ = ["Estimator", "clone", "GANEstimator", "VAEEstimator", "CNNEstimator", "DiffusionEstimator", "ESTIMATORS", "get_estimator"]
