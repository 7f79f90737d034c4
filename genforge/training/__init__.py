"""genforge's training layer: the one loop every estimator runs and the callbacks around it.

``loop.py`` steps an estimator's ``TrainingTask`` over batches and keeps the history, calling
``Callback`` objects at four points; the built-in callbacks are the finite-loss check, time limit and
early stopping (``callbacks.py``), checkpoints that resume exactly (``checkpoint.py``), sample grids and
plots (``plots.py``), the progress bar and reports (``progress.py``), scores during training
(``scoring.py``) and DDP (``distributed.py``). Below the estimators: it knows tasks, not models.
"""
