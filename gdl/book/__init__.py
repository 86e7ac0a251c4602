"""The helpers the chapter notebooks call: data as each chapter prepares it, and the
book's figures. One module per chapter (``gdl.book.ch03_vae`` ...), plus the image and
text data the chapters share (:mod:`gdl.book.images`, :mod:`gdl.book.texts`).

``from gdl.book import fashion_images`` works for every name below (the defining module
is imported on first use). The ``gdl`` command line's recipes call the same functions,
so the notebooks and the CLI train on the same data. Every ``digits`` option (the
embedded, offline dataset) uses one 80/20 split: :func:`gdl.data.split
.train_validation_split` with seed 0.

Errors are gdl's own (:mod:`gdl.errors`): an unknown data name raises
:class:`~gdl.errors.ConfigError` saying which names work.
"""

from __future__ import annotations

from gdl._lazy import lazy_exports

_EXPORTS = {
    # shared
    "DIGIT_CLASSES": "images",
    "FASHION_CLASSES": "images",
    "digits": "images",
    "first_images": "images",
    "grid_sample": "images",
    "image_data": "images",
    "save_figure": "images",
    "load_texts": "texts",
    "reader_settings": "reader_budget",
    "reader_value": "reader_budget",
    # chapter 2
    "classification_data": "ch02_deep_learning",
    "predictions_figure": "ch02_deep_learning",
    "save_predictions": "ch02_deep_learning",
    # chapter 3
    "attribute_table": "ch03_vae",
    "fashion_images": "ch03_vae",
    # chapter 4
    "label_rows": "ch04_gan",
    "label_rows_sample": "ch04_gan",
    # chapter 5
    "load_pixel_values": "ch05_autoregressive",
    # chapter 6
    "flow_figure": "ch06_normflow",
    "held_out_moons": "ch06_normflow",
    "moons_data": "ch06_normflow",
    "save_flow_figure": "ch06_normflow",
    # chapter 7
    "buffer_sample": "ch07_ebm",
    "ebm_data": "ch07_ebm",
    "generated_and_buffer": "ch07_ebm",
    # chapter 8
    "diffusion_data": "ch08_diffusion",
    # chapter 9
    "generation_html": "ch09_transformer",
    "generation_png": "ch09_transformer",
    "generation_words": "ch09_transformer",
    "write_generation": "ch09_transformer",
    "shifted_example": "ch09_transformer",
    "text_sample": "ch09_transformer",
    # chapter 10
    "StageRecorder": "ch10_advanced_gans",
    "TimeBudget": "ch10_advanced_gans",
    "attention_figure": "ch10_advanced_gans",
    "attention_for_query": "ch10_advanced_gans",
    "build_model": "ch10_advanced_gans",
    "code_usage": "ch10_advanced_gans",
    "code_usage_figure": "ch10_advanced_gans",
    "codebook_index_figure": "ch10_advanced_gans",
    "default_data": "ch10_advanced_gans",
    "fade_in_figure": "ch10_advanced_gans",
    "fade_in_series": "ch10_advanced_gans",
    "gan_data": "ch10_advanced_gans",
    "kid": "ch10_advanced_gans",
    "model_kwargs": "ch10_advanced_gans",
    "noise_variation_figure": "ch10_advanced_gans",
    "noise_variations": "ch10_advanced_gans",
    "perceptual_model": "ch10_advanced_gans",
    "prior_report": "ch10_advanced_gans",
    "prior_samples_figure": "ch10_advanced_gans",
    "progan_stages_figure": "ch10_advanced_gans",
    "reconstruction_figure": "ch10_advanced_gans",
    "sharpness": "ch10_advanced_gans",
    "style_mixing_figure": "ch10_advanced_gans",
    "style_swap_mse": "ch10_advanced_gans",
    "train_prior": "ch10_advanced_gans",
    "truncation_figure": "ch10_advanced_gans",
    "truncation_sweep": "ch10_advanced_gans",
    "image_shape_of": "ch10_advanced_gans",
    "prior_data": "ch10_advanced_gans",
    "token_perplexity": "ch10_advanced_gans",
    # chapter 11
    "MuseGANStatistics": "ch11_music",
    "causal_mask_figure": "ch11_music",
    "chorale_walkthrough": "ch11_music",
    "embedding_heatmaps": "ch11_music",
    "format_statistics": "ch11_music",
    "held_out_perplexities": "ch11_music",
    "music_sample": "ch11_music",
    "ngram_perplexity": "ch11_music",
    "raw_pianoroll_figure": "ch11_music",
    "statistics_curve_figure": "ch11_music",
    # chapter 13
    "bigram_perplexity": "ch13_multimodal",
    "caption_data": "ch13_multimodal",
    "caption_report": "ch13_multimodal",
    "clip_report": "ch13_multimodal",
    "digit_classifier": "ch13_multimodal",
    "guidance_figure": "ch13_multimodal",
    "prompt_fidelity": "ch13_multimodal",
    "similarity_figure": "ch13_multimodal",
    "train_clip": "ch13_multimodal",
    "unclip_report": "ch13_multimodal",
    "PROMPT": "ch13_multimodal",
    "GUIDANCE_SCALES": "ch13_multimodal",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
