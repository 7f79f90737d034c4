"""Estimators: GAN (and, as they land, VAE and CNN) behind one scikit-learn / H2O style contract."""

from genforge.estimators.base import Estimator
from genforge.estimators.gan import GANEstimator
from genforge.estimators.registry import ESTIMATORS, get_estimator

__all__ = ["Estimator", "GANEstimator", "ESTIMATORS", "get_estimator"]
