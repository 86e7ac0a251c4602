"""Chapter 2: the CIFAR-10 classifiers (multilayer perceptron and CNN).

Book: ``notebooks/02_deeplearning/01_mlp/mlp.ipynb`` and ``02_cnn/cnn.ipynb``.
Same layers and numbers: the MLP has 646,260 parameters, the CNN 592,554.
Both are plain functional models trained with ``compile``/``fit`` (no custom step).
"""

from __future__ import annotations

import keras
from keras import layers

CIFAR_SHAPE = (32, 32, 3)


def mlp(input_shape=CIFAR_SHAPE, num_classes: int = 10, units=(200, 150)) -> keras.Model:
    """Input -> Flatten -> Dense(200, relu) -> Dense(150, relu) -> Dense(10, softmax)."""
    inputs = layers.Input(shape=input_shape)
    x = layers.Flatten()(inputs)
    for u in units:
        x = layers.Dense(u, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="mlp")


def mlp_sequential(input_shape=CIFAR_SHAPE, num_classes: int = 10, units=(200, 150)) -> keras.Model:
    """The same MLP with the Sequential API (the book shows both give one model)."""
    return keras.Sequential(
        [layers.Input(shape=input_shape), layers.Flatten()]
        + [layers.Dense(u, activation="relu") for u in units]
        + [layers.Dense(num_classes, activation="softmax")],
        name="mlp_sequential",
    )


def cnn(
    input_shape=CIFAR_SHAPE,
    num_classes: int = 10,
    conv=((32, 1), (32, 2), (64, 1), (64, 2)),
    dense: int = 128,
    dropout: float = 0.5,
) -> keras.Model:
    """Four [Conv2D(3x3, same) -> BatchNorm -> LeakyReLU] blocks with (filters, stride)
    = (32,1), (32,2), (64,1), (64,2), then Dense(128) -> BN -> LeakyReLU -> Dropout(0.5)
    -> Dense(10) -> softmax."""
    inputs = layers.Input(shape=input_shape)
    x = inputs
    for filters, strides in conv:
        x = layers.Conv2D(filters, 3, strides=strides, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.LeakyReLU()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(dense)(x)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU()(x)
    x = layers.Dropout(rate=dropout)(x)
    x = layers.Dense(num_classes)(x)
    outputs = layers.Activation("softmax")(x)
    return keras.Model(inputs, outputs, name="cnn")


#: the book's learning rate for both classifiers (Adam)
BOOK_LEARNING_RATE = 5e-4


def compile_classifier(model: keras.Model, learning_rate: float = BOOK_LEARNING_RATE):
    """The book's compile: Adam(:data:`BOOK_LEARNING_RATE`), categorical cross-entropy,
    accuracy (the classifiers are plain functional models, so the setting is a module
    constant rather than a class attribute). Returns ``model``."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
