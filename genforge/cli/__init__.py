"""The ``genforge`` command line (``main.py``): train, generate, evaluate, export, predict, datasets, start."""
