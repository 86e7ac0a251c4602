"""Datasets by name: ``gdl.data.load("cifar10")``, ``gdl.data.get_dataset("faces")``.

==================  ===========================  ==========================================
name                module                       ``load(name)`` returns
==================  ===========================  ==========================================
fashion_mnist       :mod:`.keras_builtin`        ``(x, y), (x_test, y_test)`` uint8 (N,28,28)
mnist, cifar10      :mod:`.keras_builtin`        the same as ``keras.datasets``
faces               :mod:`.celeba`               tf.data of images, or ``(images, labels)``
bricks, flowers     :mod:`.image_sets`           tf.data of images
recipes, wines      :mod:`.text_sets`            list of the book's training strings
chorales            :mod:`.music`                ``{"train", "valid", "test"}`` (T, 4) rolls
music21_chorales    :mod:`.music` (embedded)     the same, from music21's corpus
cellosuites         :mod:`.music`                sorted list of MIDI paths
digits, moons       :mod:`.embedded`             float32 arrays
==================  ===========================  ==========================================

``gdl data list | check NAME | download NAME`` manage them on disk (:mod:`.manage`,
:mod:`.download`, :mod:`.kaggle`); :mod:`gdl.data.registry` is the registry. The image
helpers (``resize_images``, ``scale_images``, ``image_folder_dataset``) and
``train_validation_split`` (:mod:`.split`, the one split every chapter uses) are exported
here too, imported on first use. Errors: :mod:`gdl.errors` (re-exported here).
"""

from gdl._lazy import lazy_exports
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

_EXPORTS = {
    "resize_images": "images",
    "scale_images": "images",
    "image_folder_dataset": "images",
    "list_images": "images",
    "load_digits": "embedded",
    "load_moons": "embedded",
    "pad_punctuation": "text",
    "train_validation_split": "split",
}

__all__ = [
    *_EXPORTS,
    "Dataset",
    "DatasetError",
    "MissingDatasetError",
    "build_fixtures",
    "get_dataset",
    "list_datasets",
    "load",
    "register_dataset",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
