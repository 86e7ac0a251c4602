"""The helpers the chapter notebooks call, one module per chapter
(``gdl.book.ch13_multimodal`` ...). Import the chapter module directly."""
