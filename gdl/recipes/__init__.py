"""CLI recipes, one module per model family (see :mod:`gdl.recipes.base`)."""

from gdl.recipes.base import Recipe, TrainData, all_recipes, get_recipe, register

__all__ = ["Recipe", "TrainData", "all_recipes", "get_recipe", "register"]
