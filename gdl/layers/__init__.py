"""Reusable Keras 3 layers (``keras.ops`` only, serializable, every backend).

``from gdl.layers import TransformerBlock`` — every name below is importable from here;
the defining module is imported on first use, so ``import gdl.layers`` costs nothing.

======================================  ===================================================
layer / function                        what it is (book chapter)
======================================  ===================================================
:class:`Sampling`                       VAE reparameterisation ``z = mu + sigma * eps`` (3)
:class:`MaskedConv2D`, ``causal_mask``  PixelCNN's masked convolution (5)
:class:`PixelResidualBlock`             PixelCNN's residual block (5)
:class:`GatedResidualBlock`             PixelCNN++'s gated residual block (5)
:class:`WeightNormConv2D`, ...          weight-normalised, masked Dense/Conv/ConvT (5)
:class:`Coupling`                       RealNVP's scale/translation networks (6)
:class:`SinusoidalEmbedding`            noise-variance embedding of the DDIM U-Net (8)
``unet``, ``residual_block``, ...       the DDIM U-Net builders (8)
:class:`TokenAndPositionEmbedding`      token + learned or sine position embedding (9, 11)
:class:`SinePositionEncoding`           fixed sinusoidal positions (11)
:class:`TransformerBlock`               causal post-LN block, attention scores, KV cache (9)
:class:`MDNHead`, ``mdn_nll``, ...      mixture-density head of the MDN-RNN (12)
:class:`TakeAlong`                      ``x[:, index]`` as a serializable layer (11)
:class:`CrossAttention`                 attention of one stream to another (13)
:class:`SpatialCrossAttention`          U-Net image positions attend to text tokens (13)
:class:`GatedCrossAttentionBlock`       Flamingo's tanh-gated cross-attention (13)
:class:`PerceiverResampler`             Flamingo's fixed number of latents (13)
:class:`TextEncoder`                    CLIP's causal text Transformer (13)
``text_conditioned_unet``, ...          the DDIM U-Net with cross-attention (13)
:class:`EqualizedDense`, ...Conv2D      equalised learning rate (10, ProGAN/StyleGAN)
:class:`PixelNormalization`             pixelwise feature normalisation (10, ProGAN)
:class:`MinibatchStdDev`                minibatch standard deviation feature (10)
:class:`AdaIN`                          adaptive instance normalisation (10, StyleGAN)
:class:`ModulatedConv2D`                modulation + demodulation (10, StyleGAN2)
:class:`NoiseInjection`                 per-pixel noise, learned scale (10, StyleGAN)
:class:`SpectralDense`, ...Conv2D       spectral normalisation (10, SAGAN)
:class:`SelfAttention2D`                SAGAN self-attention, attention maps (10)
:class:`VectorQuantizer`                VQ-VAE codebook, straight-through, EMA (10)
======================================  ===================================================
"""

from __future__ import annotations

from gdl._lazy import lazy_exports

_EXPORTS = {
    "Sampling": "sampling",
    "MaskedConv2D": "masked_conv",
    "causal_mask": "masked_conv",
    "PixelResidualBlock": "pixelcnn",
    "GatedResidualBlock": "pixelcnn",
    "concat_elu": "pixelcnn",
    "WeightNormDense": "weight_norm",
    "WeightNormConv2D": "weight_norm",
    "WeightNormConv2DTranspose": "weight_norm",
    "kernel_mask": "weight_norm",
    "data_dependent_init": "weight_norm",
    "Coupling": "coupling",
    "SinusoidalEmbedding": "noise_embedding",
    "sinusoidal_frequencies": "noise_embedding",
    "unet": "unet",
    "residual_block": "unet",
    "down_block": "unet",
    "up_block": "unet",
    "TokenAndPositionEmbedding": "embeddings",
    "SinePositionEncoding": "embeddings",
    "sine_position_encoding": "embeddings",
    "TransformerBlock": "transformer",
    "causal_attention_mask": "transformer",
    "MDNHead": "mdn",
    "mdn_log_prob": "mdn",
    "mdn_nll": "mdn",
    "mdn_sample": "mdn",
    "TakeAlong": "slicing",
    "CrossAttention": "cross_attention",
    "SpatialCrossAttention": "cross_attention",
    "GatedCrossAttentionBlock": "cross_attention",
    "PerceiverResampler": "cross_attention",
    "TextEncoder": "text_encoder",
    "pool_at_token": "text_encoder",
    "token_mask": "text_encoder",
    "text_conditioned_unet": "text_unet",
    "embedding_conditioned_unet": "text_unet",
    "EqualizedDense": "style",
    "EqualizedConv2D": "style",
    "PixelNormalization": "style",
    "MinibatchStdDev": "style",
    "AdaIN": "style",
    "ModulatedConv2D": "style",
    "NoiseInjection": "style",
    "SpectralDense": "spectral",
    "SpectralConv2D": "spectral",
    "SelfAttention2D": "self_attention",
    "VectorQuantizer": "vector_quantizer",
    "code_perplexity": "vector_quantizer",
}

#: the public Layer subclasses (what tests/harness.py runs every one of)
LAYERS = ("Sampling", "MaskedConv2D", "PixelResidualBlock", "GatedResidualBlock",
          "WeightNormDense", "WeightNormConv2D", "WeightNormConv2DTranspose", "Coupling",
          "SinusoidalEmbedding",
          "TokenAndPositionEmbedding", "SinePositionEncoding", "TransformerBlock", "MDNHead",
          "TakeAlong", "CrossAttention", "SpatialCrossAttention", "GatedCrossAttentionBlock",
          "PerceiverResampler", "TextEncoder",
          "EqualizedDense", "EqualizedConv2D", "PixelNormalization",
          "MinibatchStdDev", "AdaIN", "ModulatedConv2D", "NoiseInjection", "SpectralDense",
          "SpectralConv2D", "SelfAttention2D", "VectorQuantizer")  # fmt: skip

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
