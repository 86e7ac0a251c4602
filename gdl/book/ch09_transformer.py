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


def generation_words(gen) -> list[tuple[list[str], list[str]]]:
    """Each row of ``gen`` as ``(prompt words, generated words)``: the first
    ``prompt_lengths[row]`` token positions are the prompt (padding left out)."""
    import numpy as np

    rows = []
    for r, text in enumerate(gen.texts):
        words = gen.words[r] if gen.words else text.split()
        n_prompt = int(np.count_nonzero(np.asarray(gen.tokens[r])[: int(gen.prompt_lengths[r])]))
        rows.append((list(words[:n_prompt]), list(words[n_prompt:])))
    return rows


def generation_png(gen, path, width: int = 64, font_size: int = 15) -> Path:
    """The texts of ``gen`` as a picture (not in the book, which prints them): one
    paragraph per row, wrapped at ``width`` characters, the prompt's words on a yellow
    ground and the generated words after them. Returns ``path``."""
    import textwrap

    from matplotlib import font_manager
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(font_manager.findfont("DejaVu Sans Mono"), font_size)
    cw = font.getlength("x")  # monospace: every character this wide
    lh = round(font_size * 1.45)
    pad = font_size
    paragraphs = []
    for prompt, generated in generation_words(gen):
        text = " ".join(prompt + generated)
        n_prompt = len(" ".join(prompt))
        lines = textwrap.wrap(text, width, break_long_words=True) or [""]
        paragraphs.append((lines, n_prompt))
    n_lines = sum(len(lines) for lines, _ in paragraphs) + len(paragraphs) - 1
    img = Image.new("RGB", (int(2 * pad + width * cw), 2 * pad + n_lines * lh), "white")
    draw = ImageDraw.Draw(img)
    y = pad
    for lines, n_prompt in paragraphs:
        start = 0  # character offset of the line in the paragraph (wrap drops one space)
        for line in lines:
            lit = max(0, min(len(line), n_prompt - start))  # prompt characters on this line
            if lit:
                draw.rectangle([pad - 2, y - 1, pad + lit * cw + 2, y + lh - 3], fill="#ffe066")
            draw.text((pad, y), line, font=font, fill="black")
            start += len(line) + 1
            y += lh
        y += lh
    path = Path(path)
    img.save(path)
    return path


def write_generation(gen, path, html: bool = True) -> list[Path]:
    """The texts of ``gen`` (one per line) at ``path`` and, with ``html``, the page of
    :func:`generation_html` and the picture of :func:`generation_png` next to it
    (``.html``, ``.png``). Returns the paths written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(gen.texts) + "\n", encoding="utf-8")
    paths = [path]
    if html:
        html_path = path.with_suffix(".html")
        html_path.write_text(generation_html(gen), encoding="utf-8")
        paths.append(html_path)
        paths.append(generation_png(gen, path.with_suffix(".png")))
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
