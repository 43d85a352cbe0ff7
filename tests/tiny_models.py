"""Tiny, randomly initialised image-to-video pipelines, built offline for tests.

Each is a real diffusers pipeline (the same classes and code paths as the full
models) with toy-sized configs, as diffusers' own tests build them
(`get_dummy_components`), saved with `save_pretrained` so the engines load it
back through their real loader. Text encoders are tiny T5/UMT5 models with a
tokenizer made here from a word list: nothing is downloaded.

Built once per test process into a temporary folder (`tiny_model(kind)`).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def refuse_network(monkeypatch) -> list:
    """Refuse every connection but loopback (the daemon under test); returns the attempts made."""
    import socket

    attempts: list = []
    connect = socket.socket.connect

    def guarded(sock, address, *args):
        if isinstance(address, tuple) and address[0] in _LOOPBACK or sock.family == socket.AF_UNIX:
            return connect(sock, address, *args)
        attempts.append(address)
        raise OSError(f"network disabled in tests (tried {address})")

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return attempts


_ROOT: Path | None = None
_BUILT: dict[str, Path] = {}

KINDS = ("svd", "ltx", "wan", "wan-flf2v", "cogvideox")

_WORDS = ("the a and of to in on with from its camera slowly pushes pulls back toward subject pans left right "
          "orbits around rises lowers static holds steady barely perceptible gentle subtle natural clear dynamic "
          "energetic motion true original photograph same colours light framing person breathes blinks hair moves "
          "wind water flows clouds drift scene flicker colour shift warping morphing blurry low quality image "
          "frozen no fast sudden movement shake").split()


def tiny_tokenizer():
    """A T5 (unigram) tokenizer over a small word list, letters as the fallback."""
    from transformers import T5Tokenizer

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [("▁" + w, -5.0) for w in dict.fromkeys(_WORDS)]
    vocab += [(c, -10.0) for c in "abcdefghijklmnopqrstuvwxyz,.'-0123456789"]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def _t5(vocab_size: int, umt5: bool = False):
    import torch
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    kwargs = dict(vocab_size=vocab_size, d_model=32, d_ff=37, d_kv=8, num_heads=4, num_layers=2,
                  relative_attention_num_buckets=8, dropout_rate=0.0)
    return UMT5EncoderModel(UMT5Config(**kwargs)) if umt5 else T5EncoderModel(T5Config(**kwargs))


def _clip_image(image_size: int, hidden: int, patch_size: int = 1, projection: bool = True):
    import torch
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    encoder = (CLIPVisionModelWithProjection if projection else CLIPVisionModel)(CLIPVisionConfig(
        hidden_size=hidden, projection_dim=hidden, num_hidden_layers=2, num_attention_heads=2,
        image_size=image_size, intermediate_size=16, patch_size=patch_size))
    return encoder, CLIPImageProcessor(crop_size=image_size, size=image_size)


def build_svd():
    import torch
    from diffusers import (AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, StableVideoDiffusionPipeline,
                           UNetSpatioTemporalConditionModel)

    torch.manual_seed(0)
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=8, out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=32, num_attention_heads=8, projection_class_embeddings_input_dim=96,
        addition_time_embed_dim=32, num_frames=8)
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", interpolation_type="linear",
        num_train_timesteps=1000, prediction_type="v_prediction", sigma_max=700.0, sigma_min=0.002,
        steps_offset=1, timestep_spacing="leading", timestep_type="continuous", use_karras_sigmas=True)
    torch.manual_seed(0)
    vae = AutoencoderKLTemporalDecoder(block_out_channels=[32, 64], in_channels=3, out_channels=3,
                                       down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
                                       latent_channels=4)
    # SVD resizes a PIL photo to CLIP's 224 pixels itself; big patches keep the encoder tiny.
    encoder, processor = _clip_image(224, 32, patch_size=32)
    return StableVideoDiffusionPipeline(unet=unet, image_encoder=encoder, scheduler=scheduler, vae=vae,
                                        feature_extractor=processor)


def build_ltx():
    import torch
    from diffusers import (AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXConditionPipeline,
                           LTXVideoTransformer3DModel)

    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(in_channels=8, out_channels=8, patch_size=1, patch_size_t=1,
                                             num_attention_heads=4, attention_head_dim=8, cross_attention_dim=32,
                                             num_layers=1, caption_channels=32)
    torch.manual_seed(0)
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False), upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1), timestep_conditioning=False, patch_size=1, patch_size_t=1,
        encoder_causal=True, decoder_causal=False)
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    tokenizer = tiny_tokenizer()
    return LTXConditionPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae,
                                text_encoder=_t5(len(tokenizer)), tokenizer=tokenizer, transformer=transformer)


def build_wan(first_last: bool = False):
    import torch
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanImageToVideoPipeline, \
        WanTransformer3DModel

    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    image_size = 4 if first_last else 32
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=36, out_channels=16,
        text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=32, image_dim=4,
        pos_embed_seq_len=2 * (image_size * image_size + 1) if first_last else None)
    encoder, processor = _clip_image(image_size, 4, projection=False)
    tokenizer = tiny_tokenizer()
    return WanImageToVideoPipeline(tokenizer=tokenizer, text_encoder=_t5(len(tokenizer), umt5=True), vae=vae,
                                   scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0), image_processor=processor,
                                   image_encoder=encoder, transformer=transformer, transformer_2=None)


def build_cogvideox():
    import torch
    from diffusers import (AutoencoderKLCogVideoX, CogVideoXDDIMScheduler, CogVideoXImageToVideoPipeline,
                           CogVideoXTransformer3DModel)

    torch.manual_seed(0)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2, attention_head_dim=16, in_channels=8, out_channels=4, time_embed_dim=2,
        text_embed_dim=32, num_layers=1, sample_width=2, sample_height=2, sample_frames=9, patch_size=2,
        temporal_compression_ratio=4, max_text_seq_length=16, use_rotary_positional_embeddings=True,
        use_learned_positional_embeddings=True)
    torch.manual_seed(0)
    vae = AutoencoderKLCogVideoX(
        in_channels=3, out_channels=3, down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8), latent_channels=4,
        layers_per_block=1, norm_num_groups=2, temporal_compression_ratio=4)
    tokenizer = tiny_tokenizer()
    return CogVideoXImageToVideoPipeline(tokenizer=tokenizer, text_encoder=_t5(len(tokenizer)), vae=vae,
                                         transformer=transformer, scheduler=CogVideoXDDIMScheduler())


_BUILDERS = {"svd": build_svd, "ltx": build_ltx, "wan": build_wan,
             "wan-flf2v": lambda: build_wan(first_last=True), "cogvideox": build_cogvideox}


def tiny_model(kind: str) -> Path:
    """The folder of a tiny saved pipeline (built on first use in this process)."""
    global _ROOT
    if kind not in _BUILT:
        if _ROOT is None:
            _ROOT = Path(tempfile.mkdtemp(prefix="stillmotion-tiny-"))
            atexit.register(shutil.rmtree, _ROOT, True)
        folder = _ROOT / f"tiny-{kind}"
        _BUILDERS[kind]().save_pretrained(folder)
        _BUILT[kind] = folder
    return _BUILT[kind]


# Registry entries for the tiny models whose native size is not in their configs (RoPE models).
# SVD and CogVideoX carry their size in their configs and run as bare `--model <folder>`.
def registry_toml(kinds: tuple[str, ...] = ("ltx", "wan", "wan-flf2v")) -> str:
    entries = {
        "ltx": ('engine = "ltx"', "size = [64, 64]", "fps = 8", "frames = 17", "steps = 2", "guidance = 3.0"),
        "wan": ('engine = "wan"', "size = [48, 32]", "fps = 8", "frames = 17", "steps = 2", "guidance = 5.0",
                'loop_model = "tiny-wan-flf2v"'),
        "wan-flf2v": ('engine = "wan"', "size = [48, 32]", "fps = 8", "frames = 17", "steps = 2",
                      "guidance = 5.0", "flf2v = true"),
    }
    lines = []
    for kind in kinds:
        lines.append(f'[models.registry.tiny-{kind}]')
        lines.append(f'path = "{tiny_model(kind)}"')
        lines.extend(entries[kind])
        lines.append("")
    return "\n".join(lines)
