"""Music in and out of gdl (chapter 11): MIDI/MusicXML/music21 scores as token streams
for the music Transformer (:mod:`gdl.music.tokens`) and as MuseGAN piano rolls
(:mod:`gdl.music.pianoroll`), both back to music21 streams and MIDI files."""

from gdl.music.pianoroll import (
    REST,
    chorale_to_stream,
    chorales_to_pianoroll,
    pianoroll_to_chorale,
    plot_pianoroll,
    show_score,
    write_midi,
)
from gdl.music.tokens import (
    START,
    build_vocabulary,
    encode,
    parse_scores,
    score_to_tokens,
    sequence_dataset,
    tokens_to_stream,
    transpose_pieces,
    transpose_tokens,
)

__all__ = [
    "REST",
    "START",
    "build_vocabulary",
    "chorale_to_stream",
    "chorales_to_pianoroll",
    "encode",
    "parse_scores",
    "pianoroll_to_chorale",
    "plot_pianoroll",
    "score_to_tokens",
    "sequence_dataset",
    "show_score",
    "tokens_to_stream",
    "transpose_pieces",
    "transpose_tokens",
    "write_midi",
]
