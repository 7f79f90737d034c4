"""genforge's data layer: readers that turn files and dataset names into Frames.

``import_file(path_or_name, **options)`` is the entry point; ``list_datasets()`` lists what it knows by
name (for ``genforge datasets``).
"""

from genforge.data.builtin import FASHION_MNIST_CLASSES, list_datasets
from genforge.data.importer import import_file
from genforge.frame import set_source_reader

set_source_reader(import_file)  # Frame(source="dataset.csv") reads with the same readers as import_file

__all__ = ["import_file", "list_datasets", "FASHION_MNIST_CLASSES"]
