"""CLI recipes, one module per model family (see :mod:`gdl.cli.recipes.base`)."""

from gdl.cli.recipes.base import Recipe, TrainData, all_recipes, get_recipe, register

__all__ = ["Recipe", "TrainData", "all_recipes", "get_recipe", "register"]
