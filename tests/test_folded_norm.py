"""A frozen norm folded into its convolution: hand-made affine, the unfolded module's outputs and gradients,
unchanged state dict, deepcopy, refusals; every conv / BN pair of EfficientNet-Lite."""
import copy

import pytest
import torch
from torch import nn

from irnet_wsis.layers import fold_frozen_norm, frozen_norm_affine, is_folded


class FrozenNorm(nn.Module):
    """Detectron2's FrozenBatchNorm2d's tensors (buffers) with an activation, as timm's FrozenBatchNormAct2d."""

    def __init__(self, weight, bias, mean, var, eps=0.0, act=None):
        super().__init__()
        for name, t in (("weight", weight), ("bias", bias), ("running_mean", mean), ("running_var", var)):
            self.register_buffer(name, torch.as_tensor(t, dtype=torch.float32))
        self.eps = eps
        self.act = act or nn.Identity()

    def forward(self, x):
        scale, shift = frozen_norm_affine(self)
        return self.act(x * scale[None, :, None, None] + shift[None, :, None, None])


def _pair(conv_bias=True):
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3, padding=1, bias=conv_bias)
    norm = FrozenNorm(torch.rand(4) + 0.5, torch.randn(4), torch.randn(4), torch.rand(4) + 0.1, eps=1e-3, act=nn.ReLU6())
    return nn.Sequential(conv, norm)


def test_hand_made_affine_in_a_one_by_one_convolution():
    # conv weight 2 (1x1, one channel), bias 1; norm weight 3, bias 4, mean 1, var 9 (eps 0): s = 1, t = 3
    conv = nn.Conv2d(1, 1, 1)
    with torch.no_grad():
        conv.weight.fill_(2.0)
        conv.bias.fill_(1.0)
    norm = FrozenNorm([3.0], [4.0], [1.0], [9.0])
    fold_frozen_norm(conv, norm)
    x = torch.tensor([[[[0.0, 1.0, -2.0]]]])
    # (2 x + 1) * 1 + 3
    assert torch.equal(norm(conv(x)), torch.tensor([[[[4.0, 6.0, 0.0]]]]))
    assert is_folded(conv) and is_folded(norm)


@pytest.mark.parametrize("conv_bias", [True, False])
def test_same_outputs_gradients_and_state_dict_as_unfolded(conv_bias):
    plain, folded = _pair(conv_bias), _pair(conv_bias)
    fold_frozen_norm(folded[0], folded[1])
    assert list(folded.state_dict()) == list(plain.state_dict())
    x = torch.randn(2, 3, 7, 9)
    y_plain, y_folded = plain(x), folded(x)
    torch.testing.assert_close(y_folded, y_plain, rtol=1e-5, atol=1e-5)
    assert ((y_plain > 0) & (y_plain < 6)).any() and (y_plain == 0).any()  # ReLU6 acts on both
    y_plain.square().sum().backward()
    y_folded.square().sum().backward()
    torch.testing.assert_close(folded[0].weight.grad, plain[0].weight.grad, rtol=1e-4, atol=1e-5)
    if conv_bias:
        torch.testing.assert_close(folded[0].bias.grad, plain[0].bias.grad, rtol=1e-4, atol=1e-5)


def test_deepcopy_folds_its_own_modules():
    model = _pair()
    fold_frozen_norm(model[0], model[1])
    twin = copy.deepcopy(model)
    x = torch.randn(1, 3, 5, 5)
    before = twin(x)
    torch.testing.assert_close(before, model(x))
    with torch.no_grad():
        model[0].weight.mul_(2.0)
        model[1].running_var.mul_(4.0)
    torch.testing.assert_close(twin(x), before)  # the copy reads its own tensors
    assert not torch.allclose(model(x), before)


def test_refuses_trainable_norms_other_convolutions_and_folding_twice():
    with pytest.raises(ValueError, match="not a frozen norm"):
        fold_frozen_norm(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4).eval())
    with pytest.raises(TypeError, match="ConvTranspose2d"):
        fold_frozen_norm(nn.ConvTranspose2d(3, 4, 2), FrozenNorm([1.0] * 4, [0.0] * 4, [0.0] * 4, [1.0] * 4))
    model = _pair()
    fold_frozen_norm(model[0], model[1])
    with pytest.raises(ValueError, match="already folded"):
        fold_frozen_norm(model[0], model[1])


def test_every_conv_bn_pair_of_efficientnet_lite_folds():
    pytest.importorskip("timm", reason="timm is needed for the EfficientNet-Lite backbone")
    from timm.layers.norm_act import FrozenBatchNormAct2d

    from irnet_wsis.modeling.efficientnet_lite import EfficientNetLite

    torch.manual_seed(0)
    plain = EfficientNetLite("lite0", 16, pretrained=False, conv_head=True, fold_frozen_bn=False).eval()
    # random statistics, so that a norm left out or folded into the wrong convolution shows
    with torch.no_grad():
        for m in plain.modules():
            if isinstance(m, FrozenBatchNormAct2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.5)
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    folded = EfficientNetLite("lite0", 16, pretrained=False, conv_head=True, fold_frozen_bn=True).eval()
    folded.load_state_dict(plain.state_dict())
    norms = [m for m in folded.modules() if isinstance(m, FrozenBatchNormAct2d)]
    assert norms and all(is_folded(m) for m in norms)
    x = torch.randn(1, 3, 67, 93)
    with torch.no_grad():
        expected, outputs = plain(x), folded(x)
    for name, y in expected.items():
        torch.testing.assert_close(outputs[name], y, rtol=1e-4, atol=1e-4 * y.abs().max().item())
