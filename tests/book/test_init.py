"""gdl.book: lazy exports of every chapter helper."""

import gdl


def test_gdl_book_is_lazy_and_exports_every_helper():
    book = gdl.book  # reachable from a bare `import gdl`
    for name in book.__all__:
        assert getattr(book, name) is not None, name
    assert book.fashion_images is book.ch03_vae.fashion_images
