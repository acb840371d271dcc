"""Parity fixtures for the ConvNeXt, ViT and CLIP backbone plugins: small models with random
weights, built by the reference libraries (torchvision, timm, open_clip, Hugging Face
transformers), saved in the checkpoint formats users bring, with the features PyTorch computes for
a random input in eval mode.

Usage: backbone_fixtures.py FAMILY OUT_DIR, FAMILY one of convnext, vit, clip. Writes, in OUT_DIR:

cases.json: a list of cases, each with exactly these fields (the plugins' tests read them)
  {"name": unique, "variant": the plugin variant,
   "options": the plugin's options (exact keys per family, see *_options below),
   "scheme": the key naming the loader must recognise,
   "weights": the weights file in OUT_DIR, "io": the input/features file in OUT_DIR,
   "backbone_params": parameters of the rateme backbone for the case (the reference's parameters
                      less the parts rateme does not build: classifier, unused head norm or
                      projection, CLIP's text tower)}
  <name>.safetensors / <name>.pth: the reference's whole state_dict as a user has it (classifier
  built with 10 classes instead of 1000 to keep files small), plain (not nested), formats mixed
  per family: safetensors, torch.save zip, and one legacy (pre-zip) pickle (fixture_io.legacy_save).
  <name>-io.safetensors: "input" [2,3,S,S] float32 (standard normal) and "features" [2,F] float32.
param_counts.json: parameter counts of the full-size reference models of every plugin variant,
  with the libraries' versions.

Weights are random but not trivial (default inits make blocks near identity, and a parity test on
those proves little): every Linear/Conv weight (and nn.MultiheadAttention's fused in_proj_weight)
~ N(0, 1/fan_in), so activations keep unit scale and attention logits are O(1) (attention is far
from uniform, so a q/k/v mix-up shows); every bias ~ N(0, 0.1^2); every LayerNorm weight ~
U(0.5, 1.5), bias ~ N(0, 0.2^2); ConvNeXt layer scales ~ U(0.5, 1.5) (instead of 1e-6); ViT/CLIP
class tokens and position embeddings ~ N(0, 0.5^2). Everything is seeded and single-threaded:
reruns write identical bytes.

Idempotent; rerun through scripts/backbone-fixtures.sh and commit the fixture folders."""
import importlib.metadata
import math
import os
import sys

import torch
from torch import nn
import torch.nn.functional as F
import safetensors.torch

import torchvision.models.convnext as tv_convnext
import torchvision.models.vision_transformer as tv_vit
import timm
import timm.models.convnext
import timm.models.vision_transformer
import open_clip
from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg
import transformers
from transformers import CLIPConfig, CLIPModel, CLIPVisionConfig, CLIPVisionModel

sys.dont_write_bytecode = True  # importing fixture_io leaves no scripts/__pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import count, legacy_save, write_cases  # noqa: E402

NUM_CLASSES = 10  # the references' default is 1000; the backbones ignore the classifier
VERSIONS = {p: importlib.metadata.version(p)
            for p in ["torch", "torchvision", "timm", "open-clip-torch", "transformers",
                      "safetensors"]}


# --- random weights -----------------------------------------------------------------------------

def randomise(model, gen):
    """Random Linear/Conv/attention/LayerNorm parameters as documented above, in named_modules()
    order from gen (call under torch.no_grad()). Subclasses count: torchvision's and timm's
    LayerNorm2d and open_clip's LayerNorm are nn.LayerNorms, torchvision's MLP layers and
    nn.MultiheadAttention's out_proj are nn.Linears. Embedding tables (CLIP text tower, HF position
    embeddings) keep their init; the family code randomises the ones that matter."""
    for _, m in model.named_modules():
        if isinstance(m, nn.LayerNorm):
            m.weight.uniform_(0.5, 1.5, generator=gen)
            m.bias.normal_(0.0, 0.2, generator=gen)
        elif isinstance(m, (nn.Linear, nn.Conv2d)):
            fan_in = m.weight[0].numel()  # in features; in channels/groups * kernel area
            m.weight.normal_(0.0, 1.0 / math.sqrt(fan_in), generator=gen)
            if m.bias is not None:
                m.bias.normal_(0.0, 0.1, generator=gen)
        elif isinstance(m, nn.MultiheadAttention):  # fused q,k,v rows [3D, D]; out_proj above
            m.in_proj_weight.normal_(0.0, 1.0 / math.sqrt(m.embed_dim), generator=gen)
            m.in_proj_bias.normal_(0.0, 0.1, generator=gen)


def randomise_named(model, gen, suffixes, fill):
    """fill(param, gen) for every parameter whose name ends with one of suffixes, in
    named_parameters() order; returns the names it filled (so a renamed parameter is noticed)."""
    done = []
    for name, p in model.named_parameters():
        if name.endswith(tuple(suffixes)):
            fill(p, gen)
            done.append(name)
    assert done, suffixes
    return done


def uniform_scale(p, gen):
    p.uniform_(0.5, 1.5, generator=gen)


def token_normal(p, gen):
    p.normal_(0.0, 0.5, generator=gen)


# --- checkpoint files ---------------------------------------------------------------------------

def save_weights(fmt, sd, path, metadata=None):
    """fmt "safetensors" (contiguous copies; metadata as save_pretrained writes it for HF),
    "torch-zip" (torch.save) or "torch-legacy" (fixture_io.legacy_save: pre-zip pickle)."""
    if fmt == "safetensors":
        safetensors.torch.save_file({k: v.contiguous() for k, v in sd.items()}, path,
                                    metadata=metadata)
    elif fmt == "torch-zip":
        torch.save(sd, path)
    else:
        assert fmt == "torch-legacy"
        legacy_save(sd, path)


def load_weights(fmt, path):
    if fmt == "safetensors":
        return safetensors.torch.load_file(path)
    return torch.load(path, map_location="cpu", weights_only=True)


def extension(fmt):
    return ".safetensors" if fmt == "safetensors" else ".pth"


def plain_state_dict(model):
    """Detached copies of model.state_dict() in a plain dict (no _metadata: what a user's
    `{k: v for ...}` or a converted checkpoint holds)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def check_features(name, f):
    """Features must be finite, of sane scale, and depend on the input."""
    std = f.std().item()
    spread = (f[0] - f[1]).std().item()
    assert torch.isfinite(f).all() and 0.05 < std < 50 and spread > 0.05, (name, std, spread)
    return std, spread


def no_head_params(model, prefixes):
    """Parameters of model less those whose names start with one of prefixes."""
    return count(p for n, p in model.named_parameters() if not n.startswith(tuple(prefixes)))


# === ConvNeXt ====================================================================================
# torchvision: ConvNeXt(block_setting=[CNBlockConfig(in, out, depth)...]); blocks
# features.{1,3,5,7}.j.block.{0 dwconv 7x7, 2 LayerNorm, 3 Linear, 5 Linear}.layer_scale [C,1,1];
# stem features.0.{0 conv 4x4/4, 1 LayerNorm2d}; downsample features.{2,4,6}.{0 LN2d, 1 conv 2x2/2};
# classifier = [LayerNorm2d, Flatten, Linear]; avgpool before the classifier. timm: ConvNeXt(
# depths, dims); stem.{0,1}, stages.i.downsample.{0,1}, stages.i.blocks.j.{conv_dw, norm, mlp.fc1,
# mlp.fc2, gamma [C]}, head.{norm (LayerNorm2d), fc}. Every LayerNorm eps 1e-6, GELU exact.
CONVNEXT_DEPTHS = [1, 1, 2, 1]
CONVNEXT_DIMS = [16, 24, 32, 40]
CONVNEXT_CASES = [
    # input 64: stem 16x16, stages 16, 8, 4, 2. input 72: 18, 9, 4 (floor), 2.
    dict(name="torchvision-base", variant="base", lib="torchvision", size=64, head_norm=True,
         format="safetensors", seed=1),
    dict(name="timm-tiny", variant="tiny", lib="timm", size=72, head_norm=True,
         format="torch-zip", seed=2),
    # RateMeAI's kind: torchvision's classifier replaced, so no head LayerNorm in the backbone
    # (the file still holds the original classifier, which the loader ignores).
    dict(name="torchvision-nohead", variant="base", lib="torchvision", size=64, head_norm=False,
         format="torch-legacy", seed=3),
]


def convnext_build(case):
    if case["lib"] == "torchvision":
        dims = CONVNEXT_DIMS + [None]
        setting = [tv_convnext.CNBlockConfig(dims[i], dims[i + 1], CONVNEXT_DEPTHS[i])
                   for i in range(4)]
        return tv_convnext.ConvNeXt(setting, stochastic_depth_prob=0.0, num_classes=NUM_CLASSES)
    return timm.models.convnext.ConvNeXt(depths=CONVNEXT_DEPTHS, dims=CONVNEXT_DIMS,
                                         num_classes=NUM_CLASSES, drop_path_rate=0.0)


def convnext_randomise(model, case, gen):
    randomise(model, gen)
    # torchvision's CNBlock.layer_scale [C,1,1], timm's ConvNeXtBlock.gamma [C]: init 1e-6.
    suffix = "layer_scale" if case["lib"] == "torchvision" else ".gamma"
    names = randomise_named(model, gen, [suffix], uniform_scale)
    assert len(names) == sum(CONVNEXT_DEPTHS), names


def convnext_features(model, case, x):
    """head_norm: avgpool -> the head's LayerNorm2d -> flatten (torchvision classifier[0:2],
    timm forward_head(pre_logits=True)); else avgpool -> flatten."""
    if case["lib"] == "torchvision":
        y = model.avgpool(model.features(x))
        if case["head_norm"]:
            return model.classifier[1](model.classifier[0](y))
        return y.flatten(1)
    assert case["head_norm"]
    return model.forward_head(model.forward_features(x), pre_logits=True)


def convnext_backbone_params(model, case):
    if case["lib"] == "torchvision":
        drop = ["classifier.2."] + ([] if case["head_norm"] else ["classifier.0."])
    else:
        drop = ["head.fc."] + ([] if case["head_norm"] else ["head.norm."])
    return no_head_params(model, drop)


def convnext_options(case):
    return dict(input_size=case["size"], depths=CONVNEXT_DEPTHS, dims=CONVNEXT_DIMS,
                drop_path=0.0, head_norm=case["head_norm"])


def convnext_counts():
    """Full-size models (on the meta device: shapes only). torchvision convnext_* (weights=None),
    timm.create_model('convnext_*', pretrained=False): total, the final Linear ("classifier"),
    the head's LayerNorm2d ("head_norm")."""
    out = {"torchvision": {}, "timm": {}}
    for v in ["tiny", "small", "base", "large"]:
        with torch.device("meta"):
            m = getattr(tv_convnext, f"convnext_{v}")()
        out["torchvision"][v] = dict(
            total=count(m), classifier=count(m.classifier[2]), head_norm=count(m.classifier[0]),
            depths=[len(m.features[i]) for i in (1, 3, 5, 7)],
            dims=[m.features[i][0].block[0].in_channels for i in (1, 3, 5, 7)])
        with torch.device("meta"):
            m = timm.create_model(f"convnext_{v}", pretrained=False)
        out["timm"][v] = dict(
            total=count(m), classifier=count(m.head.fc), head_norm=count(m.head.norm),
            depths=[len(s.blocks) for s in m.stages],
            dims=[s.blocks[0].conv_dw.in_channels for s in m.stages])
    assert out["torchvision"]["base"]["total"] == 88_591_464
    return out


# === ViT =========================================================================================
# torchvision: VisionTransformer(image_size, patch_size, num_layers, num_heads, hidden_dim,
# mlp_dim); class_token [1,1,D], conv_proj, encoder.pos_embedding [1,1+g*g,D],
# encoder.layers.encoder_layer_i.{ln_1, self_attention.in_proj_weight [3D,D] (q,k,v rows),
# in_proj_bias, out_proj, ln_2, mlp.0, mlp.3}, encoder.ln, heads.head. Before torchvision 0.12's
# MLPBlock the MLP was mlp.linear_1/linear_2; MLPBlock._load_from_state_dict still renames those
# when the state dict carries no version metadata. timm: VisionTransformer(img_size, patch_size,
# embed_dim, depth, num_heads, mlp_ratio); cls_token, pos_embed, patch_embed.proj,
# blocks.i.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}, norm, head. LayerNorm eps 1e-6.
VIT_DIM, VIT_DEPTH, VIT_HEADS, VIT_MLP = 48, 2, 3, 96
VIT_CASES = [
    dict(name="torchvision-b16", variant="b16", lib="torchvision", patch=16, size=48,
         format="torch-zip", seed=11),
    dict(name="torchvision-b32", variant="b32", lib="torchvision", patch=32, size=64,
         format="safetensors", seed=12),
    dict(name="timm-b16", variant="b16", lib="timm", patch=16, size=48, format="safetensors",
         seed=13),
    # the file uses the old MLP names mlp.linear_1/linear_2 (grid 2)
    dict(name="torchvision-b16-oldmlp", variant="b16", lib="torchvision", patch=16, size=32,
         format="torch-legacy", old_mlp=True, seed=14),
    # position embedding resized from the weights' grid to the input's: 2x2 -> 4x4 (as RateMeAI
    # did 14x14 -> 28x28) and 4x4 -> 2x2
    dict(name="torchvision-b16-resize-up", variant="b16", lib="torchvision", patch=16, size=64,
         weights_size=32, format="torch-zip", seed=15),
    dict(name="torchvision-b16-resize-down", variant="b16", lib="torchvision", patch=16,
         size=32, weights_size=64, format="safetensors", seed=16),
]
# plugin variant: (dim, depth, heads, mlp_dim, patch)
VIT_VARIANTS = {
    "ti16": (192, 12, 3, 768, 16), "ti32": (192, 12, 3, 768, 32),
    "s16": (384, 12, 6, 1536, 16), "s32": (384, 12, 6, 1536, 32),
    "b16": (768, 12, 12, 3072, 16), "b32": (768, 12, 12, 3072, 32),
    "l16": (1024, 24, 16, 4096, 16), "l32": (1024, 24, 16, 4096, 32),
}


def vit_build(case, size):
    """The reference at image size `size` (torchvision and timm both insist on it)."""
    if case["lib"] == "torchvision":
        return tv_vit.VisionTransformer(image_size=size, patch_size=case["patch"],
                                        num_layers=VIT_DEPTH, num_heads=VIT_HEADS,
                                        hidden_dim=VIT_DIM, mlp_dim=VIT_MLP,
                                        num_classes=NUM_CLASSES)
    return timm.models.vision_transformer.VisionTransformer(
        img_size=size, patch_size=case["patch"], embed_dim=VIT_DIM, depth=VIT_DEPTH,
        num_heads=VIT_HEADS, mlp_ratio=VIT_MLP / VIT_DIM, num_classes=NUM_CLASSES)


def vit_randomise(model, case, gen):
    randomise(model, gen)
    names = ["class_token", "pos_embedding"] if case["lib"] == "torchvision" \
        else ["cls_token", "pos_embed"]
    assert len(randomise_named(model, gen, names, token_normal)) == 2


def vit_features(model, case, x):
    """Final LayerNorm of the class token (torchvision: encoder output[:, 0], as its forward
    does before `heads`; timm, global_pool 'token': forward_head(pre_logits=True))."""
    if case["lib"] == "torchvision":
        t = model._process_input(x)
        t = torch.cat([model.class_token.expand(t.shape[0], -1, -1), t], dim=1)
        return model.encoder(t)[:, 0]
    return model.forward_head(model.forward_features(x), pre_logits=True)


def resize_pos_embedding(pos, grid):
    """[1, 1+g*g, D] -> [1, 1+grid*grid, D]: the class position kept, the g x g grid (row-major
    tokens, as the patch conv's output is flattened) resized with F.interpolate(bicubic,
    align_corners=False; no antialias), as RateMeAI resized 14x14 -> 28x28. (torchvision's own
    interpolate_embeddings uses align_corners=True: not what RateMeAI did.)"""
    cls, img = pos[:, :1], pos[:, 1:]
    g = math.isqrt(img.shape[1])
    assert g * g == img.shape[1]
    img = img.reshape(1, g, g, -1).permute(0, 3, 1, 2)  # [1, D, g, g]
    img = F.interpolate(img, size=(grid, grid), mode="bicubic", align_corners=False)
    img = img.permute(0, 2, 3, 1).reshape(1, grid * grid, -1)
    return torch.cat([cls, img], dim=1)


def vit_run_model(case, weights_model, sd):
    """The model that computes the expected features at the case's input size: the weights'
    model itself, or (resize cases) a torchvision model at the input size holding the weights'
    state with the position embedding resized."""
    if "weights_size" not in case:
        return weights_model
    run = vit_build(case, case["size"])
    sd = dict(sd)
    grid = case["size"] // case["patch"]
    sd["encoder.pos_embedding"] = resize_pos_embedding(sd["encoder.pos_embedding"], grid)
    run.load_state_dict(sd, strict=True)
    return run


def vit_saved_state(sd, case):
    """The state as the file holds it: old-MLP cases renamed mlp.0 -> mlp.linear_1, mlp.3 ->
    mlp.linear_2 (what torchvision < 0.12 wrote)."""
    if not case.get("old_mlp"):
        return sd
    out = {}
    for k, v in sd.items():
        out[k.replace(".mlp.0.", ".mlp.linear_1.").replace(".mlp.3.", ".mlp.linear_2.")] = v
    assert any(".mlp.linear_2." in k for k in out)
    return out


def vit_backbone_params(model, case):
    """The run model (its position embedding has the input's grid) less the classifier."""
    return no_head_params(model, ["heads."] if case["lib"] == "torchvision" else ["head."])


def vit_options(case):
    return dict(input_size=case["size"], dim=VIT_DIM, depth=VIT_DEPTH, heads=VIT_HEADS,
                mlp_dim=VIT_MLP, dropout=0.0)


def vit_counts():
    """Full-size models on the meta device. torchvision vit_{b,l}_{16,32} (weights=None; it has
    no Ti/S); timm VisionTransformer built from the variant's config (img_size 224, 1000 classes,
    class token, global_pool 'token'). total and the classifier (heads / head)."""
    out = {"torchvision": {}, "timm": {}}
    for v, (dim, depth, heads, mlp, patch) in VIT_VARIANTS.items():
        config = dict(dim=dim, depth=depth, heads=heads, mlp_dim=mlp, patch=patch,
                      image_size=224)
        if v[0] in "bl":
            with torch.device("meta"):
                m = getattr(tv_vit, f"vit_{v[0]}_{patch}")()
            assert (m.hidden_dim, len(m.encoder.layers), m.patch_size, m.mlp_dim) == \
                (dim, depth, patch, mlp)
            out["torchvision"][v] = dict(total=count(m), classifier=count(m.heads), **config)
        with torch.device("meta"):
            m = timm.models.vision_transformer.VisionTransformer(
                img_size=224, patch_size=patch, embed_dim=dim, depth=depth, num_heads=heads,
                mlp_ratio=mlp / dim, num_classes=1000, class_token=True, global_pool="token")
        out["timm"][v] = dict(total=count(m), classifier=count(m.head), **config)
    assert out["torchvision"]["b16"]["total"] == 86_567_656
    return out


# === CLIP ========================================================================================
# open_clip (OpenAI's names): visual.{conv1 (no bias), class_embedding [D], positional_embedding
# [1+g*g, D], ln_pre, transformer.resblocks.i.{ln_1, attn.in_proj_weight [3D,D],
# attn.in_proj_bias, attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj}, ln_post, proj [D, out]} used as
# ln_post(x)[:, 0] @ proj; the text tower at the top level. HF: embeddings.{class_embedding,
# patch_embedding (no bias), position_embedding (nn.Embedding)}, pre_layrnorm (sic),
# encoder.layers.i.{layer_norm1, self_attn.{q,k,v,out}_proj, layer_norm2, mlp.fc1, mlp.fc2},
# post_layernorm. transformers 5's CLIPVisionModel holds these directly (its state_dict and its
# save_pretrained file have no prefix; from_pretrained strips a "vision_model." prefix); in
# transformers 4 it wrapped them in .vision_model, so hub files and files saved by 4.x have
# vision_model.* keys. CLIPModel: vision_model.*, text_model.*, visual_projection (Linear, no
# bias), text_projection, logit_scale. QuickGELU, LayerNorm eps 1e-5, mlp 4 x width everywhere.
CLIP_WIDTH, CLIP_LAYERS, CLIP_HEADS, CLIP_OUT = 48, 2, 3, 24
CLIP_CASES = [
    # open_clip's ViT-B-32-quickgelu kind, whole model (text tower too), features encode_image
    dict(name="openclip-b32", variant="vit-b32", lib="open_clip", patch=32, size=64,
         projection=True, format="torch-zip", seed=21),
    # OpenAI names, only the visual.* keys (proj included), projection not used; grid 2
    dict(name="openai-visual-b16", variant="vit-b16", lib="open_clip", patch=16, size=32,
         projection=False, visual_only=True, format="torch-legacy", seed=22),
    # RateMeAI's kind: HF CLIPVisionModel, pooler_output; keys as transformers 4 and the hub
    # have them (vision_model.*)
    dict(name="hf-vision-b32", variant="vit-b32", lib="hf-vision", patch=32, size=64,
         projection=False, prefix="vision_model.", format="safetensors", seed=23),
    # the same saved by transformers 5 (save_pretrained): no prefix; grid 2
    dict(name="hf-vision-v5-b16", variant="vit-b16", lib="hf-vision", patch=16, size=32,
         projection=False, prefix="", format="safetensors", seed=24),
    # HF CLIPModel (text tower too), get_image_features; the file also carries the int64
    # position_ids buffers that files written by transformers before 4.31 (where the buffer was
    # persistent) hold; grid 2
    dict(name="hf-clip-b16", variant="vit-b16", lib="hf-clip", patch=16, size=32,
         projection=True, format="torch-zip", position_ids=True, seed=25),
]
CLIP_VARIANTS = {  # plugin variant: open_clip model name, HF vision config (no download)
    "vit-b32": ("ViT-B-32-quickgelu", dict(hidden_size=768, intermediate_size=3072,
                                          num_hidden_layers=12, num_attention_heads=12,
                                          patch_size=32, image_size=224, projection_dim=512)),
    "vit-b16": ("ViT-B-16-quickgelu", dict(hidden_size=768, intermediate_size=3072,
                                          num_hidden_layers=12, num_attention_heads=12,
                                          patch_size=16, image_size=224, projection_dim=512)),
    "vit-l14": ("ViT-L-14-quickgelu", dict(hidden_size=1024, intermediate_size=4096,
                                          num_hidden_layers=24, num_attention_heads=16,
                                          patch_size=14, image_size=224, projection_dim=768)),
}


def hf_vision_config(case):
    return CLIPVisionConfig(hidden_size=CLIP_WIDTH, intermediate_size=4 * CLIP_WIDTH,
                            num_hidden_layers=CLIP_LAYERS, num_attention_heads=CLIP_HEADS,
                            image_size=case["size"], patch_size=case["patch"],
                            hidden_act="quick_gelu", projection_dim=CLIP_OUT)


def clip_build(case):
    if case["lib"] == "open_clip":
        vision = CLIPVisionCfg(layers=CLIP_LAYERS, width=CLIP_WIDTH,
                               head_width=CLIP_WIDTH // CLIP_HEADS, patch_size=case["patch"],
                               image_size=case["size"])
        text = CLIPTextCfg(context_length=8, vocab_size=64, width=32, heads=2, layers=1)
        return CLIP(embed_dim=CLIP_OUT, vision_cfg=vision, text_cfg=text, quick_gelu=True)
    if case["lib"] == "hf-vision":
        return CLIPVisionModel(hf_vision_config(case))
    text = dict(vocab_size=64, hidden_size=32, intermediate_size=128, num_hidden_layers=1,
                num_attention_heads=2, max_position_embeddings=8, hidden_act="quick_gelu",
                pad_token_id=1, bos_token_id=62, eos_token_id=63)  # defaults: ids of 49408
    config = CLIPConfig(text_config=text, vision_config=hf_vision_config(case).to_dict(),
                        projection_dim=CLIP_OUT)
    return CLIPModel(config)


def clip_vision_tower(model, case):
    return {"open_clip": lambda: model.visual, "hf-vision": lambda: model,
            "hf-clip": lambda: model.vision_model}[case["lib"]]()


def clip_randomise(model, case, gen):
    randomise(model, gen)
    v = clip_vision_tower(model, case)
    if case["lib"] == "open_clip":
        names = ["class_embedding", "positional_embedding"]
        # proj [D, out] is a raw parameter (x @ proj): N(0, 1/D) like the Linears
        v.proj.normal_(0.0, 1.0 / math.sqrt(CLIP_WIDTH), generator=gen)
    else:
        names = ["embeddings.class_embedding", "embeddings.position_embedding.weight"]
    assert len(randomise_named(v, gen, names, token_normal)) == 2


def clip_features(model, case, x):
    """projection: open_clip encode_image (ln_post(x)[:, 0] @ proj); HF CLIPModel
    get_image_features, which in transformers 5 returns a BaseModelOutputWithPooling whose
    pooler_output is the projected features (last_hidden_state is not projected). Else the
    post-LayerNorm class token: HF pooler_output; open_clip: ln_post's output token 0, taken with
    a hook (its forward applies proj right after)."""
    if case["lib"] == "open_clip":
        if case["projection"]:
            return model.encode_image(x)
        seen = []
        hook = model.visual.ln_post.register_forward_hook(lambda m, i, o: seen.append(o))
        model.visual(x)
        hook.remove()
        assert len(seen) == 1 and seen[0].dim() == 3
        return seen[0][:, 0]
    if case["lib"] == "hf-vision":
        assert not case["projection"]
        return model(pixel_values=x).pooler_output
    assert case["projection"]
    out = model.get_image_features(pixel_values=x)
    assert out.pooler_output.shape[1] == CLIP_OUT
    return out.pooler_output


def clip_saved_state(sd, case):
    """open_clip visual-only files keep the visual.* keys; HF vision files get the case's key
    prefix; HF CLIPModel files get int64 position_ids [1, n] buffers (vision and text) as
    transformers before 4.31 persisted them."""
    if case.get("visual_only"):
        return {k: v for k, v in sd.items() if k.startswith("visual.")}
    if case["lib"] == "hf-vision":
        return {case["prefix"] + k: v for k, v in sd.items()}
    if case.get("position_ids"):
        sd = dict(sd)
        sd["vision_model.embeddings.position_ids"] = \
            torch.arange((case["size"] // case["patch"]) ** 2 + 1)[None]
        sd["text_model.embeddings.position_ids"] = torch.arange(8)[None]
    return sd


def clip_loadable_state(sd, case):
    """The file's state as load_state_dict(strict=True) of the reference takes it (undoes
    clip_saved_state; a visual-only file is loaded into .visual by load_into)."""
    if case["lib"] == "hf-vision":
        n = len(case["prefix"])
        assert all(k.startswith(case["prefix"]) for k in sd)
        return {k[n:]: v for k, v in sd.items()}
    if case.get("position_ids"):
        return {k: v for k, v in sd.items() if not k.endswith(".position_ids")}
    return sd


def clip_backbone_params(model, case):
    """The vision tower, with the projection only when it is used."""
    if case["lib"] == "open_clip":
        return count(model.visual) - (0 if case["projection"] else model.visual.proj.numel())
    if case["lib"] == "hf-vision":
        return count(model)
    return count(model.vision_model) + count(model.visual_projection)


def clip_options(case):
    return dict(input_size=case["size"], width=CLIP_WIDTH, layers=CLIP_LAYERS, heads=CLIP_HEADS,
                projection=case["projection"], output_dim=CLIP_OUT)


def clip_counts():
    """Full-size image towers on the meta device: open_clip create_model(name, pretrained=None)
    .visual (with proj) and its proj; HF CLIPVisionModel from the hub configs written by hand
    (the vision_model, no projection)."""
    out = {"open_clip": {}, "huggingface": {}}
    for v, (name, hf) in CLIP_VARIANTS.items():
        with torch.device("meta"):
            m = open_clip.create_model(name, pretrained=None, device="meta")
        out["open_clip"][v] = dict(model=name, with_projection=count(m.visual),
                                   projection=m.visual.proj.numel(),
                                   output_dim=m.visual.proj.shape[1])
        with torch.device("meta"):
            m = CLIPVisionModel(CLIPVisionConfig(**hf))
        out["huggingface"][v] = dict(vision_model=count(m), **hf)
    assert out["open_clip"]["vit-b32"]["with_projection"] == 87_849_216
    assert out["huggingface"]["vit-b32"]["vision_model"] == 87_456_000
    return out


# === the families, one flow ======================================================================

def identity_state(sd, case):
    return sd


FAMILIES = {
    "convnext": dict(cases=CONVNEXT_CASES, build=lambda c, size: convnext_build(c),
                     randomise=convnext_randomise, features=convnext_features,
                     saved=identity_state, loadable=identity_state,
                     run_model=lambda c, m, sd: m, backbone=convnext_backbone_params,
                     options=convnext_options, counts=convnext_counts),
    "vit": dict(cases=VIT_CASES, build=vit_build, randomise=vit_randomise,
                features=vit_features, saved=vit_saved_state,
                # torchvision itself renames mlp.linear_1/2 on load (no version metadata)
                loadable=identity_state, run_model=vit_run_model,
                backbone=vit_backbone_params, options=vit_options, counts=vit_counts),
    "clip": dict(cases=CLIP_CASES, build=lambda c, size: clip_build(c),
                 randomise=clip_randomise, features=clip_features, saved=clip_saved_state,
                 loadable=clip_loadable_state, run_model=lambda c, m, sd: m,
                 backbone=clip_backbone_params, options=clip_options, counts=clip_counts),
}
SCHEMES = {"torchvision": "torchvision", "timm": "timm", "open_clip": "openai",
           "hf-vision": "huggingface", "hf-clip": "huggingface"}


def load_into(model, case, sd):
    """load_state_dict(strict=True); visual-only open_clip files go into model.visual."""
    if case.get("visual_only"):
        sd = {k[len("visual."):]: v for k, v in sd.items()}
        model = model.visual
    result = model.load_state_dict(sd, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def compute(fam, case, model, x):
    model.eval()
    with torch.no_grad():
        return fam["features"](model, case, x).contiguous()


def make_case(fam, case, out_dir):
    """Builds the reference (global seed), randomises it (generator), saves its state in the
    case's format, computes the features of a random input with the run model, writes the io
    file, checks the weights file reads back to the same tensors, returns the cases.json entry."""
    torch.manual_seed(case["seed"])
    model = fam["build"](case, case.get("weights_size", case["size"]))
    gen = torch.Generator().manual_seed(1000 + case["seed"])
    with torch.no_grad():
        fam["randomise"](model, case, gen)
    model.eval()
    sd = plain_state_dict(model)
    run = fam["run_model"](case, model, sd)
    run.eval()
    s = case["size"]
    x = torch.randn(2, 3, s, s, generator=gen)
    f = compute(fam, case, run, x)
    std, spread = check_features(case["name"], f)

    saved = fam["saved"](sd, case)
    wname = case["name"] + extension(case["format"])
    metadata = {"format": "pt"} if case["lib"].startswith("hf-") else None
    save_weights(case["format"], saved, os.path.join(out_dir, wname), metadata)
    ioname = case["name"] + "-io.safetensors"
    safetensors.torch.save_file({"input": x.contiguous(), "features": f},
                                os.path.join(out_dir, ioname))
    back = load_weights(case["format"], os.path.join(out_dir, wname))
    assert sorted(back) == sorted(saved)
    for k, t in saved.items():
        assert back[k].dtype == t.dtype and torch.equal(back[k], t), k

    backbone = fam["backbone"](run, case)
    entry = dict(name=case["name"], variant=case["variant"], options=fam["options"](case),
                 scheme=SCHEMES[case["lib"]], weights=wname, io=ioname,
                 backbone_params=backbone)
    print(f"{case['name']}: features {tuple(f.shape)} std {std:.3f} (between the two inputs "
          f"{spread:.3f}), backbone params {backbone}, {len(saved)} tensors in the file",
          file=sys.stderr)
    return entry


def verify(fam, case, entry, out_dir):
    """A fresh reference (other random init) loaded strictly from the weights file (through the
    position-embedding resize for resize cases) computes exactly the stored features from the
    stored input."""
    torch.manual_seed(case["seed"] + 100)
    model = fam["build"](case, case.get("weights_size", case["size"]))
    sd = fam["loadable"](load_weights(case["format"], os.path.join(out_dir, entry["weights"])),
                         case)
    load_into(model, case, sd)
    run = fam["run_model"](case, model, plain_state_dict(model))
    io = safetensors.torch.load_file(os.path.join(out_dir, entry["io"]))
    f = compute(fam, case, run, io["input"])
    assert torch.equal(f, io["features"]), case["name"]


def main(family, out_dir):
    fam = FAMILIES[family]
    names = [c["name"] for c in fam["cases"]]
    assert len(set(names)) == len(names)
    write_cases(out_dir, fam["cases"], lambda c, d: make_case(fam, c, d),
                lambda c, e, d: verify(fam, c, e, d), "param_counts.json",
                lambda: dict(versions=VERSIONS, **fam["counts"]()))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
