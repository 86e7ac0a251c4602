"""Chapter 9 (Transformers): GPT's generations as a page to look at."""

from __future__ import annotations

from pathlib import Path


def generation_html(gen) -> str:
    """An HTML page with the attention of each generated word and the top-5 next words of
    the first row of a GPT :class:`~gdl.generation.Generation` (the notebook's two views)."""
    from gdl.models.gpt import attention_html, top_k_table

    rows = "".join(
        f"<tr><td>{r['chosen']}</td><td>"
        + ", ".join(f"{w} {100 * p:.1f}%" for w, p in r["candidates"])
        + "</td></tr>"
        for r in top_k_table(gen, max_steps=gen.num_steps)
    )
    return (
        "<html><body><h3>attention of each generated word</h3>"
        + attention_html(gen, max_steps=gen.num_steps)
        + "<h3>top-5 next words</h3><table>"
        + rows
        + "</table></body></html>"
    )


def write_generation(gen, path, html: bool = True) -> list[Path]:
    """The texts of ``gen`` (one per line) at ``path`` and, with ``html``, the page of
    :func:`generation_html` next to it (``.html``). Returns the paths written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(gen.texts) + "\n", encoding="utf-8")
    paths = [path]
    if html:
        html_path = path.with_suffix(".html")
        html_path.write_text(generation_html(gen), encoding="utf-8")
        paths.append(html_path)
    return paths


def shifted_example(x, y, vocab=None, n: int = 10) -> str:
    """The book's input/target view of a language-model window: the first ``n`` tokens of
    ``x`` beside those of ``y`` (``x`` shifted by one), as ids and, with ``vocab``, words.
    Returns the table as text (print it)."""
    lines = [f"{'input':>22}  ->  target"]
    for a, b in zip(list(x)[:n], list(y)[:n]):
        if vocab is not None:
            a, b = f"{vocab[int(a)]} ({int(a)})", f"{vocab[int(b)]} ({int(b)})"
        lines.append(f"{a!s:>22}  ->  {b}")
    return "\n".join(lines)


def text_sample(prompt: str, max_tokens: int, temperature: float = 1.0):
    """The book's ``TextGenerator`` as a ``fn(model, path)`` for
    :class:`gdl.callbacks.NotebookRun`: generate from ``prompt``, print it, write it to
    ``path`` (seeded by the file name, so every epoch differs)."""

    def sample(model, path):
        seed = int("".join(c for c in Path(path).stem if c.isdigit()) or 0)
        gen = model.generate(prompt, max_tokens=max_tokens, temperature=temperature, seed=seed)
        print(f"\ngenerated text:\n{gen.texts[0]}\n")
        write_generation(gen, path, html=False)

    return sample
