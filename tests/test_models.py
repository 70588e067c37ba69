"""The ScoNet family: exact parameter counts, stage shapes, heads against slow references, PGA, config."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError

from gaitmodels.losses import part_cross_entropy, triplet_loss
from gaitmodels.models import (
    InvalidInputError,
    ModelConfig,
    ScoNet,
    build_model,
    convert_opengait_state_dict,
    predict,
)
from gaitmodels.models.backbone import ResNet9
from gaitmodels.models.heads import HorizontalPoolingPyramid, SeparateBNNecks, SeparateFCs, TemporalMaxPool
from gaitmodels.models.pga import PAVGuidedAttention

SMALL = (8, 16, 32, 64)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def small(name: str, **kw) -> ScoNet:
    torch.manual_seed(0)
    return build_model(ModelConfig(name=name, widths=SMALL, **kw))


# --- exact sizes -------------------------------------------------------------------------------------


def test_sconet_has_upstream_parameter_counts_per_stage():
    model = build_model({"name": "sconet-mt"})
    assert n_params(model.backbone) == 4_896_960
    assert n_params(model.fcs) == 2_097_152
    assert n_params(model.bnnecks) == 20_480
    assert n_params(model) == 7_014_592
    assert tuple(model.backbone.conv1.weight.shape) == (64, 1, 3, 3)


def test_skeleton_and_drf_models_have_upstream_parameter_counts():
    ske = build_model({"name": "sconet-mt-ske"})
    drf = build_model({"name": "drf"})
    assert n_params(ske) == 7_015_168
    assert tuple(ske.backbone.conv1.weight.shape) == (64, 2, 3, 3)
    assert n_params(drf.pga) == 6_404
    assert n_params(drf) == 7_021_572


def test_backbone_keeps_16x11_resolution_for_64x44_frames():
    backbone = ResNet9(2, SMALL)
    out = backbone(torch.rand(3, 2, 64, 44))
    assert tuple(out.shape) == (3, 64, 16, 11)  # strides 1, 2, 2, 1 and no max pool


# --- heads against slow references ---------------------------------------------------------------------


def test_temporal_max_pool_pools_each_seql_segment_separately():
    x = torch.randn(1, 7, 2, 4, 3)
    pooled = TemporalMaxPool()(x, [2, 5])
    assert tuple(pooled.shape) == (2, 2, 4, 3)
    assert torch.equal(pooled[0], x[0, :2].amax(0))
    assert torch.equal(pooled[1], x[0, 2:].amax(0))
    assert torch.equal(TemporalMaxPool()(x, torch.tensor([[2, 5]])), pooled)  # upstream's (1, n) tensor
    with pytest.raises(InvalidInputError):
        TemporalMaxPool()(x, [2, 4])  # does not cover the 7 frames


def test_hpp_adds_mean_and_max_of_each_horizontal_strip_top_first():
    x = torch.randn(2, 3, 16, 5)
    out = HorizontalPoolingPyramid(16)(x)
    assert tuple(out.shape) == (2, 3, 16)
    for strip in (0, 7, 15):
        row = x[:, :, strip, :]
        assert torch.allclose(out[:, :, strip], row.mean(-1) + row.amax(-1))
    two_rows = HorizontalPoolingPyramid(8)(x)[:, :, 1]
    block = x[:, :, 2:4, :].reshape(2, 3, -1)
    assert torch.allclose(two_rows, block.mean(-1) + block.amax(-1))


def test_separate_fcs_apply_one_bias_free_matrix_per_part():
    fcs = SeparateFCs(parts=4, c_in=5, c_out=3)
    x = torch.randn(2, 5, 4)
    out = fcs(x)
    assert tuple(out.shape) == (2, 3, 4)
    for part in range(4):
        assert torch.allclose(out[:, :, part], x[:, :, part] @ fcs.fc_bin[part], atol=1e-6)


def test_bnneck_logits_are_per_part_cosines_of_bn_features_and_class_columns():
    neck = SeparateBNNecks(parts=3, c=4, classes=2).eval()
    neck.bn1d.running_mean.uniform_(-1, 1)
    neck.bn1d.running_var.uniform_(0.5, 2)
    x = torch.randn(5, 4, 3)
    _, logits = neck(x)
    assert tuple(logits.shape) == (5, 2, 3)
    flat = x.reshape(5, 12)  # channel-major flattening, index c * parts + p
    bn = (flat - neck.bn1d.running_mean) / torch.sqrt(neck.bn1d.running_var + neck.bn1d.eps)
    bn = (bn * neck.bn1d.weight + neck.bn1d.bias).reshape(5, 4, 3)
    for part in range(3):
        for cls in range(2):
            w = neck.fc_bin[part, :, cls]
            cos = F.cosine_similarity(bn[:, :, part], w.expand(5, 4), dim=1)
            assert torch.allclose(logits[:, cls, part], cos, atol=1e-5)


@torch.no_grad()
def test_pga_matches_hand_written_gates():
    pga = PAVGuidedAttention(channels=6, pairs=8, metrics=3)
    pav = torch.randn(2, 8, 3)
    feat = torch.randn(2, 6, 16)
    out = pga(feat, pav)
    w, b = pga.channel_attention.weight, pga.channel_attention.bias
    cw, cb = pga.spatial_attention.weight.reshape(3), pga.spatial_attention.bias
    for i in range(2):
        flat = torch.stack([pav[i, pair, metric] for pair in range(8) for metric in range(3)])  # pair-major
        g_ch = torch.sigmoid(w @ flat + b)  # (6,)
        z = [float(pav[i, pair] @ cw + cb) for pair in range(8)]
        for part in range(16):
            src = max((part + 0.5) * 8 / 16 - 0.5, 0.0)  # align_corners=False source coordinate
            lo = math.floor(src)
            hi = min(lo + 1, 7)
            z_part = z[lo] + (src - lo) * (z[hi] - z[lo])  # interpolate first...
            g_part = torch.sigmoid(torch.tensor(z_part))  # ...then squash
            assert torch.allclose(out[i, :, part], feat[i, :, part] * g_ch * g_part, atol=1e-5)


# --- the whole network -----------------------------------------------------------------------------------


@torch.no_grad()
def test_forward_returns_embed_and_logits_and_accepts_4d_silhouettes():
    model = small("sconet-mt").eval()
    x = torch.rand(2, 8, 64, 44)
    out = model(x)
    assert tuple(out["embed"].shape) == (2, 256, 16)
    assert tuple(out["logits"].shape) == (2, 3, 16)
    assert float(out["logits"].abs().max()) <= 1.0 + 1e-5  # cosine logits
    assert torch.allclose(model(x.unsqueeze(2))["logits"], out["logits"])


def test_packed_seql_batch_equals_sequences_run_one_by_one():
    model = small("drf").eval()
    a, b = torch.rand(1, 3, 2, 64, 44), torch.rand(1, 5, 2, 64, 44)
    pav = torch.rand(2, 8, 3)
    packed = model(torch.cat([a, b], dim=1), seqL=[3, 5], pav=pav)
    assert tuple(packed["logits"].shape) == (2, 3, 16)
    one = model(a, pav=pav[:1])
    two = model(b, pav=pav[1:])
    assert torch.allclose(packed["logits"], torch.cat([one["logits"], two["logits"]]), atol=1e-5)
    assert torch.allclose(packed["embed"], torch.cat([one["embed"], two["embed"]]), atol=1e-5)


def test_drf_gates_the_triplet_embedding():
    drf = small("drf").eval()
    x = torch.rand(2, 4, 2, 64, 44)
    pav = torch.rand(2, 8, 3)
    gated = drf(x, pav=pav)["embed"]
    with torch.no_grad():
        feat = drf.backbone(x.reshape(8, 2, 64, 44)).reshape(2, 4, 64, 16, 11).amax(1)
        raw = drf.fcs(drf.hpp(feat))
    assert torch.allclose(gated, drf.pga(raw, pav), atol=1e-5)
    assert not torch.allclose(gated, raw)


def test_bad_inputs_are_refused_with_a_clear_error():
    drf, sil = small("drf"), small("sconet")
    maps = torch.rand(2, 4, 2, 64, 44)
    with pytest.raises(ValueError, match="needs pav"):
        drf(maps)
    with pytest.raises(ValueError, match="PAV"):
        drf(maps, pav=torch.rand(2, 3, 8))
    with pytest.raises(ValueError, match="do not pass pav"):
        sil(torch.rand(2, 4, 64, 44), pav=torch.rand(2, 8, 3))
    with pytest.raises(ValueError, match=r"\(n, s, 1, H, W\)"):
        sil(maps)  # 2-channel maps into a silhouette model
    with pytest.raises(ValueError, match="float"):
        sil(torch.zeros(2, 4, 64, 44, dtype=torch.uint8))
    with pytest.raises(ValueError, match="strips"):
        sil(torch.rand(2, 4, 60, 44))  # 60 / 4 = 15 rows cannot make 16 strips


def test_predict_is_argmax_of_part_mean():
    logits = torch.tensor(
        [
            [[0.9, -0.9], [0.0, 0.5], [0.1, 0.2]],  # class means 0.0, 0.25, 0.15 -> 1
            [[0.2, 0.2], [0.1, 0.1], [0.3, 0.0]],  # 0.2, 0.1, 0.15 -> 0 (part 0 alone would say 2)
        ]
    )
    assert predict(logits).tolist() == [1, 0]


# --- config, init, checkpoints ---------------------------------------------------------------------------


def test_config_defaults_follow_the_model_name():
    assert (ModelConfig(name="sconet").in_channels, ModelConfig(name="sconet").use_pga) == (1, False)
    assert (ModelConfig(name="sconet-mt-ske").in_channels, ModelConfig(name="drf").use_pga) == (2, True)
    assert ModelConfig(name="drf").modality == "skeleton_map"
    assert not ModelConfig(name="sconet").uses_triplet and ModelConfig(name="sconet-mt").uses_triplet
    assert ModelConfig(name="sconet").class_order == ("negative", "neutral", "positive")


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "sconet", "in_channels": 2},
        {"name": "drf", "use_pga": False},
        {"name": "sconet-mt-ske", "use_pga": True},
        {"name": "sconet", "class_order": ("negative", "positive")},
        {"name": "sconet", "class_order": ("negative", "negative", "positive")},
        {"name": "resnet"},
        {"name": "sconet", "bins": 8},
    ],
)
def test_inconsistent_configs_are_refused(fields):
    with pytest.raises(ValidationError):
        ModelConfig(**fields)


def test_config_is_frozen_and_rebuilds_from_its_json_dump():
    cfg = ModelConfig(name="drf", widths=SMALL, class_order=("negative", "positive", "neutral"))
    with pytest.raises(ValidationError):
        cfg.name = "sconet"
    rebuilt = build_model(cfg.model_dump(mode="json"))
    assert rebuilt.config == cfg
    source = build_model(cfg)
    rebuilt.load_state_dict(source.state_dict())  # same architecture, key for key


@torch.no_grad()
def test_init_follows_upstream_rules():
    model = build_model({"name": "sconet-mt"})
    bound = math.sqrt(6 / (512 * 256 + 16 * 256))  # 3-D xavier: fan_in = I*O, fan_out = P*O
    fc = model.fcs.fc_bin
    assert float(fc.abs().max()) <= bound and float(fc.abs().max()) > 0.99 * bound
    bn_weights = torch.cat([m.weight for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)])
    assert abs(float(bn_weights.mean()) - 1.0) < 0.005 and abs(float(bn_weights.std()) - 0.02) < 0.005
    assert all(float(m.bias.abs().max()) == 0 for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    conv = model.backbone.layer3.conv1.weight  # 256 x 128 x 3 x 3: xavier bound sqrt(6 / ((128 + 256) * 9))
    assert float(conv.abs().max()) <= math.sqrt(6 / (384 * 9))
    drf = small("drf")
    assert float(drf.pga.channel_attention.bias.abs().max()) == 0


def test_opengait_state_dict_keys_map_onto_ours():
    model = small("drf")
    ours = model.state_dict()

    def upstream_name(key: str) -> str:  # how OpenGait (and UMGRL's DRF) name the same tensor
        key = key.replace("backbone.conv1.", "Backbone.forward_block.conv1.conv.")
        for layer in ("layer1", "layer2", "layer3", "layer4"):
            key = key.replace(f"backbone.{layer}.", f"Backbone.forward_block.{layer}.0.")
        key = key.replace("backbone.", "Backbone.forward_block.")
        return key.replace("fcs.", "FCs.").replace("bnnecks.", "BNNecks.").replace("pga.", "PGA.")

    upstream = {"module." + upstream_name(k): v for k, v in ours.items()}
    assert "module.Backbone.forward_block.layer2.0.downsample.0.weight" in upstream
    converted = convert_opengait_state_dict(upstream)
    assert converted.keys() == ours.keys()
    assert set(convert_opengait_state_dict({"attention_layer.channel_attention.weight": 0})) == {
        "pga.channel_attention.weight"
    }
    small("drf").load_state_dict(converted, strict=True)


# --- training smoke test -----------------------------------------------------------------------------------


def toy_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """2 ids x 2 copies x 8 frames: class 0 is slightly brighter in the top half, class 2 in the bottom half."""
    gen = torch.Generator().manual_seed(1)
    x = 0.4 + 0.2 * torch.rand(4, 8, 1, 64, 44, generator=gen)
    x[:2, :, :, :32] += 0.05
    x[2:, :, :, 32:] += 0.05
    return x, torch.tensor([0, 0, 1, 1]), torch.tensor([0, 0, 2, 2])


def test_training_steps_reduce_triplet_plus_ce_on_a_separable_toy_batch():
    torch.manual_seed(0)
    model = build_model(ModelConfig(name="sconet-mt", widths=(4, 8, 16, 32))).train()  # tiny: CI has 2 cores
    x, ids, classes = toy_batch()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    history = []
    for _ in range(5):
        out = model(x)
        assert tuple(out["embed"].shape) == (4, 256, 16) and tuple(out["logits"].shape) == (4, 3, 16)
        triplet = triplet_loss(out["embed"], ids).loss
        loss = triplet + part_cross_entropy(out["logits"], classes)
        optimizer.zero_grad()
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
        optimizer.step()
        history.append((triplet.item(), loss.item()))
    assert history[0][0] > 0  # the triplet term is active at the start, so both losses are exercised
    assert history[-1][0] < history[0][0]
    assert history[-1][1] < 0.5 * history[0][1]
    assert predict(out["logits"]).tolist() == [0, 0, 2, 2]
