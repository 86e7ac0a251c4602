"""The book's models as ``keras.Model`` subclasses with their training logic inside.

``from gdl.models import VAE`` — every name below is importable from here; the defining
module is imported on first use.

Shared verbs (the same word means the same thing in every family)
------------------------------------------------------------------
``fit``
    Keras' own, on the book's loss (``compute_loss``) or the model's ``train_step``.
``encode(images)`` / ``decode(latents)``
    Arrays or tensors in, NumPy out. ``encode`` returns what the encoder outputs: the
    autoencoder's embeddings, a VAE's ``(z_mean, z_log_var, z)`` (:class:`VAE`,
    :class:`FacesVAE` and :class:`gdl.world_models.WorldModelVAE` alike, whose ``call``
    returns ``(z_mean, z_log_var, reconstruction)``). ``decode`` maps latents to images.
``generate(num, seed=None, ...)``
    Image generators (:class:`VAE`, :class:`FacesVAE`, :class:`DCGAN`, :class:`WGANGP`,
    :class:`ConditionalWGAN`, :class:`EBM`, :class:`DiffusionModel`, :class:`MuseGAN`)
    return a float NumPy array ``(num, H, W, C)`` (MuseGAN: piano rolls ``(num, bars,
    steps, pitches, tracks)``) in the model's output range: [0, 1] for the VAEs and
    the diffusion models, [-1, 1] for the GANs and the EBM. :class:`RealNVP` returns points
    ``(num, input_dim)``. The same ``seed`` (an int, ``0`` included) gives the same
    output; ``seed=None`` draws from the model's own ``SeedGenerator``. Sequence models
    (:class:`GPT`, :class:`LSTMTextGenerator`, :class:`MusicTransformer`,
    :class:`PixelCNN`, :class:`PixelCNNMixture`) return their generation result, see
    :mod:`gdl.generation`.
``model(x)`` (``call``)
    The forward pass the loss is computed on; each class documents its outputs.

``compile()``
    With no optimizer, the book's (``Model.book_optimizer()``, from the class attributes
    ``book_learning_rate`` ...; the GANs: for both players); ``compile(optimizer=...)``
    overrides it. See :mod:`gdl.models.optimizers`.

Every model saves to ``.keras`` and loads back after a bare ``import gdl``.
"""

from __future__ import annotations

from gdl._lazy import lazy_exports

_EXPORTS = {
    # chapter 2
    "mlp": "classifiers",
    "mlp_sequential": "classifiers",
    "cnn": "classifiers",
    "compile_classifier": "classifiers",
    # chapter 3
    "EncoderDecoderModel": "autoencoder",
    "Autoencoder": "autoencoder",
    "conv_encoder": "autoencoder",
    "conv_decoder": "autoencoder",
    "VAE": "vae",
    "FacesVAE": "vae",
    "kl_divergence": "vae",
    # chapter 4
    "DCGAN": "gan",
    "WGANGP": "gan",
    "ConditionalWGAN": "gan",
    "conv_generator": "gan",
    "dcgan_discriminator": "gan",
    "wgan_critic": "gan",
    "nearest_images": "gan",
    # chapter 5
    "LSTMTextGenerator": "lstm",
    "PixelCNN": "pixelcnn",
    "PixelCNNMixture": "pixelcnn",
    "PixelCNNPlusPlus": "pixelcnn",
    # chapter 6
    "RealNVP": "realnvp",
    # chapter 7
    "EBM": "ebm",
    "energy_network": "ebm",
    "langevin_sample": "ebm",
    # chapter 8
    "DiffusionModel": "diffusion",
    "offset_cosine_diffusion_schedule": "diffusion",
    "cosine_diffusion_schedule": "diffusion",
    "linear_diffusion_schedule": "diffusion",
    # chapter 9
    "GPT": "gpt",
    # chapter 10
    "SAGAN": "sagan",
    "ProGAN": "progan",
    "StyleGAN2": "stylegan",
    "VQVAE": "vqgan",
    "VQGAN": "vqgan",
    "hinge_d_loss": "adversarial",
    "hinge_g_loss": "adversarial",
    "r1_penalty": "adversarial",
    # chapter 11
    "MusicTransformer": "music_transformer",
    "MuseGAN": "musegan",
    # chapter 13
    "CLIP": "clip",
    "contrastive_loss": "clip",
    "recall_at_k": "clip",
    "image_feature_network": "clip",
    "TextToImageDiffusion": "text2image",
    "UnCLIPDecoder": "text2image",
    "guided_noise": "text2image",
    "DiffusionPrior": "unclip",
    "FlamingoCaptioner": "flamingo",
    # running models on arrays
    "predict_numpy": "inference",
    # the book's optimizer of each model (class attributes; compile() uses it)
    "BookCompile": "optimizers",
    "BookOptimizer": "optimizers",
}

#: the public Model subclasses (what tests/harness.py runs every one of)
MODELS = ("Autoencoder", "VAE", "FacesVAE", "DCGAN", "WGANGP", "ConditionalWGAN",
          "LSTMTextGenerator", "PixelCNN", "PixelCNNMixture", "PixelCNNPlusPlus", "RealNVP", "EBM",
          "DiffusionModel", "GPT", "MusicTransformer", "MuseGAN", "CLIP",
          "TextToImageDiffusion", "UnCLIPDecoder", "DiffusionPrior",
          "FlamingoCaptioner",
          "SAGAN", "ProGAN",
          "StyleGAN2", "VQVAE", "VQGAN")  # fmt: skip

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
