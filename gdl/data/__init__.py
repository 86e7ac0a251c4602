"""Datasets by name: ``gdl.data.load("cifar10")``, ``gdl.data.get_dataset("faces")``.

See :mod:`gdl.data.registry` for the registry and each module for its datasets.
"""

from gdl.data.registry import (
    Dataset,
    DatasetError,
    MissingDatasetError,
    build_fixtures,
    get_dataset,
    list_datasets,
    load,
    register_dataset,
)

__all__ = [
    "Dataset",
    "DatasetError",
    "MissingDatasetError",
    "build_fixtures",
    "get_dataset",
    "list_datasets",
    "load",
    "register_dataset",
]
