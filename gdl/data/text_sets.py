"""Epicurious recipes (chapter 5 LSTM) and wine reviews (chapter 9 GPT), from Kaggle.

Layouts under ``GDL_DATA_DIR``::

    epirecipes/full_format_recipes.json          ~20k recipes (title, directions, ...)
    wine-reviews/winemag-data-130k-v2.json       ~130k reviews (country, province, ...)

The loaders return the book's training strings (lists of ``str``); tokenisation is
:mod:`gdl.data.text`.
"""

from __future__ import annotations

import json
from pathlib import Path

from gdl.data.download import verify_by_loading
from gdl.data.registry import Dataset, DatasetError, register_dataset


def _json_problems(ds: Dataset) -> list[str]:
    path = ds.path() / ds.extra["file"]
    if not path.is_file():
        return [f"missing {path}"]
    if path.stat().st_size == 0:
        return [f"{path} is empty"]
    return []


def read_json_list(path: Path) -> list:
    """A JSON file holding a non-empty list; anything else raises :class:`DatasetError`
    naming the file."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DatasetError(
            f"{path} is not valid JSON ({exc}); it may be truncated: download it again"
        ) from exc
    if not isinstance(data, list) or not data:
        raise DatasetError(f"{path} is empty (expected a JSON list of records)")
    return data


def _download(ds: Dataset, **kw):
    from gdl.data.kaggle import download_kaggle

    return download_kaggle(ds, **kw)


def load_recipes(ds: Dataset, limit: int | None = None) -> list[str]:
    """``"Recipe for {title} | {directions joined by spaces}"`` for every recipe whose
    title and directions are present (the LSTM notebook's ``filtered_data``).
    ``limit`` keeps the first ``limit`` strings."""
    return recipes_from_json(ds.require() / ds.extra["file"], limit)


def recipes_from_json(path: str | Path, limit: int | None = None) -> list[str]:
    """:func:`load_recipes` for any JSON file in the Epicurious format (your own data)."""
    data = read_json_list(Path(path))
    texts = [
        "Recipe for " + x["title"] + " | " + " ".join(x["directions"])
        for x in data
        if isinstance(x, dict) and x.get("title") is not None and x.get("directions") is not None
    ]
    return texts[:limit] if limit else texts


def load_wines(ds: Dataset, limit: int | None = None) -> list[str]:
    """``"wine review : {country} : {province} : {variety} : {description}"`` for every
    review with all four fields (the GPT notebook's ``filtered_data``)."""
    return wines_from_json(ds.require() / ds.extra["file"], limit)


def wines_from_json(path: str | Path, limit: int | None = None) -> list[str]:
    """:func:`load_wines` for any JSON file in the Wine Enthusiast format (your own data)."""
    data = read_json_list(Path(path))
    keys = ("country", "province", "variety", "description")
    texts = [
        "wine review : " + " : ".join(x[k] for k in keys)
        for x in data
        if isinstance(x, dict) and all(x.get(k) is not None for k in keys)
    ]
    return texts[:limit] if limit else texts


_RECIPES = [
    ("Roasted Vegetables", ["Chop 1/2 onion.", "Roast at 400°F for 30 minutes."]),
    ("Chocolate Ice Cream", ["Melt the chocolate.", "Whisk in cream, then churn."]),
    ("Lentil Soup", ["Rinse lentils.", "Simmer with stock, carrots and cumin for 40 minutes."]),
    ("Green Salad", ["Wash the lettuce.", "Toss with oil, vinegar, salt and pepper."]),
]
_WINES = [
    ("US", "California", "Pinot Noir", "Bright cherry fruit, soft tannins and a long finish."),
    ("Italy", "Tuscany", "Sangiovese", "Earthy, with dried cherry and leather; firm acidity."),
    ("Germany", "Mosel", "Riesling", "Lime, slate and honey; off-dry and racy."),
    ("France", "Bordeaux", "Bordeaux-style Red Blend", "Cassis, cedar and tobacco."),
]


def fixture_recipes(ds: Dataset, root: Path, repeat: int = 8) -> None:
    """A small ``full_format_recipes.json`` with the real keys, including an empty record
    and one without directions (both filtered out, as in the real file)."""
    items: list[dict] = []
    for i in range(repeat):
        for title, directions in _RECIPES:
            items.append(
                {
                    "title": f"{title} {i}",
                    "directions": directions,
                    "ingredients": ["1 onion", "salt"],
                    "categories": ["Vegetable"],
                    "rating": 4.375,
                    "calories": 250.0,
                    "desc": None,
                }
            )
    items += [{}, {"title": "No Directions", "directions": None}]
    path = root / ds.folder / ds.extra["file"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(items))


def fixture_wines(ds: Dataset, root: Path, repeat: int = 8) -> None:
    """A small ``winemag-data-130k-v2.json`` with the real keys, one record lacking a
    country (filtered out)."""
    items: list[dict] = []
    for i in range(repeat):
        for country, province, variety, description in _WINES:
            items.append(
                {
                    "points": 85 + i,
                    "title": f"Fixture {variety} {i}",
                    "description": description,
                    "taster_name": None,
                    "price": 15.0 + i,
                    "designation": None,
                    "variety": variety,
                    "region_1": None,
                    "region_2": None,
                    "province": province,
                    "country": country,
                    "winery": "Fixture Winery",
                    "taster_twitter_handle": None,
                }
            )
    items.append({"country": None, "province": "x", "variety": "y", "description": "z"})
    path = root / ds.folder / ds.extra["file"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(items))


RECIPES = register_dataset(
    Dataset(
        name="recipes",
        description="Epicurious recipes, ~20k (Kaggle; chapter 5 LSTM)",
        source="kaggle:hugodarwood/epirecipes",
        folder="epirecipes",
        loader=load_recipes,
        checker=_json_problems,
        verifier=verify_by_loading,
        downloader=_download,
        fixture=fixture_recipes,
        chapters=("05",),
        extra={"file": "full_format_recipes.json"},
    )
)

WINES = register_dataset(
    Dataset(
        name="wines",
        description="Wine Enthusiast reviews, ~130k (Kaggle; chapter 9 GPT)",
        source="kaggle:zynicide/wine-reviews",
        folder="wine-reviews",
        loader=load_wines,
        checker=_json_problems,
        verifier=verify_by_loading,
        downloader=_download,
        fixture=fixture_wines,
        chapters=("09",),
        extra={"file": "winemag-data-130k-v2.json"},
    )
)
