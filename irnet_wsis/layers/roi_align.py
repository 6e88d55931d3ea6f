"""ROIAlign as two matrix products per image: the same numbers as torchvision's kernel, a fast CPU backward.

ROIAlign averages bilinear samples over each bin of a box. The bilinear weight of a sample is a product of a
weight along y and one along x, and the sample count of a bin is ``grid_h * grid_w``, so the pooled feature of
box ``r`` is separable::

    out[r, c, i, j] = sum_y sum_x  Wy[r, i, y] * F[n_r, c, y, x] * Wx[r, j, x]

where ``Wy[r, i, y]`` is the mean over bin row ``i``'s samples of their linear interpolation weight on feature
row ``y`` (``Wx`` likewise). With ``Wy`` (R, out_h, H) and ``Wx`` (R, out_w, W) built from the boxes, the
forward is one matrix product per image over ``y`` and one batched product over ``x``; autograd's backward is
the same two products transposed. torchvision's CPU backward scatters every sample's four corner gradients one
by one on one thread: on the synthetic Mask R-CNN (160-px images) it is a third of a training iteration
(benchmarks/RESULTS.md, "Mask R-CNN: ROIAlign's backward").

:class:`SeparableROIAlign` is Detectron2's ``ROIAlign`` with this path where it pays: a CPU input that needs a
gradient. Inference and CUDA inputs keep torchvision's kernel (its forward is as fast or faster).
:func:`use_separable_roi_align` swaps it into a built model (``MODEL.SEPARABLE_ROI_ALIGN``).
"""
import torch
from detectron2.layers import ROIAlign
from torch import nn
from torch.nn.modules.utils import _pair
from torchvision.ops import roi_align

__all__ = ["axis_weights", "separable_roi_align", "SeparableROIAlign", "use_separable_roi_align"]


def axis_weights(start: torch.Tensor, length: torch.Tensor, bins: int, size: int,
                 sampling_ratio: int) -> torch.Tensor:
    """ROIAlign's interpolation weights along one axis.

    Args:
        start, length: (R,) each box's first coordinate and extent along the axis, in feature cells (already
            scaled, shifted and clamped as torchvision does).
        bins: output cells along the axis.
        size: feature cells along the axis (H or W).
        sampling_ratio: samples per bin along the axis; <= 0: ``ceil(length / bins)`` per box (torchvision's).

    Returns:
        (R, bins, size): ``W[r, i, y]``, the mean over bin ``i``'s samples of their linear interpolation weight on
        cell ``y`` (samples beyond one cell outside the map weigh nothing; rows of a box with no samples are 0).
    """
    num_boxes = start.shape[0]
    dtype = start.dtype
    step = length / bins
    if sampling_ratio > 0:
        grid = torch.full((num_boxes,), sampling_ratio, dtype=torch.long, device=start.device)
    else:
        grid = torch.ceil(step).long()
    max_grid = max(int(grid.max()) if num_boxes else 1, 1)
    sample = torch.arange(max_grid, dtype=dtype, device=start.device)
    grid_f = grid.clamp(min=1).to(dtype)
    bin_index = torch.arange(bins, dtype=dtype, device=start.device)
    pos = (start[:, None, None] + bin_index[None, :, None] * step[:, None, None]
           + (sample[None, None, :] + 0.5) * (step / grid_f)[:, None, None])  # (R, bins, max_grid)
    valid = (sample[None, None, :] < grid[:, None, None]) & (pos >= -1.0) & (pos <= size)
    pos = pos.clamp(min=0.0)
    low = pos.floor().long()
    last = low >= size - 1
    low = low.clamp(max=size - 1)
    high = torch.where(last, low, low + 1)
    frac = torch.where(last, torch.zeros_like(pos), pos - low.to(dtype))
    weight = valid.to(dtype) / grid_f[:, None, None]
    out = torch.zeros(num_boxes, bins, size, dtype=dtype, device=start.device)
    out.scatter_add_(2, low, weight * (1.0 - frac))
    out.scatter_add_(2, high, weight * frac)
    return out


def separable_roi_align(input: torch.Tensor, rois: torch.Tensor, output_size, spatial_scale: float,
                        sampling_ratio: int, aligned: bool) -> torch.Tensor:
    """``torchvision.ops.roi_align`` computed as ``Wy @ F @ Wx^T`` per box (module docstring).

    Args:
        input: (N, C, H, W) features.
        rois: (R, 5) boxes: image index, x0, y0, x1, y1 in input-image pixels.
        output_size: int or (out_h, out_w).
        spatial_scale: feature cells per input pixel.
        sampling_ratio: samples per bin and axis; <= 0: adaptive, as torchvision.
        aligned: shift the boxes by -0.5 cell (Detectron2's ROIAlignV2); False: torchvision's legacy boxes of
            at least one cell.

    Returns:
        (R, C, out_h, out_w), in input's dtype, differentiable with respect to ``input``.
    """
    out_h, out_w = _pair(output_size)
    num_images, channels, height, width = input.shape
    boxes = rois[:, 1:].to(input.dtype) * spatial_scale - (0.5 if aligned else 0.0)
    extent = boxes[:, 2:] - boxes[:, :2]
    if not aligned:
        extent = extent.clamp(min=1.0)
    weights_y = axis_weights(boxes[:, 1], extent[:, 1], out_h, height, sampling_ratio)
    weights_x = axis_weights(boxes[:, 0], extent[:, 0], out_w, width, sampling_ratio)
    image_index = rois[:, 0].long()
    pieces, order = [], []
    for n in range(num_images):  # a few images a batch: one product over y and one over x each
        rows = (image_index == n).nonzero().squeeze(1)
        if rows.numel() == 0:
            continue
        num = rows.numel()
        features = input[n].transpose(0, 1).reshape(height, channels * width)      # (H, C * W)
        along_y = weights_y[rows].reshape(num * out_h, height) @ features          # (R_n * out_h, C * W)
        pooled = torch.bmm(along_y.reshape(num, out_h * channels, width), weights_x[rows].transpose(1, 2))
        pieces.append(pooled.reshape(num, out_h, channels, out_w).transpose(1, 2))
        order.append(rows)
    if not pieces:  # no boxes: torchvision's empty (R = 0) output
        return roi_align(input, rois.to(input.dtype), (out_h, out_w), spatial_scale, sampling_ratio, aligned)
    return torch.cat(pieces)[torch.argsort(torch.cat(order))]


class SeparableROIAlign(ROIAlign):
    """Detectron2's ``ROIAlign`` (same arguments and outputs) whose training forward on a CPU runs
    :func:`separable_roi_align`, so that its backward is matrix products instead of torchvision's
    single-threaded scatter. Inference and CUDA inputs run torchvision's kernel."""

    def forward(self, input, rois):
        """input: (N, C, H, W); rois: (R, 5) image index and x0, y0, x1, y1. Returns (R, C, out_h, out_w)."""
        if input.is_cuda or input.is_quantized or not (torch.is_grad_enabled() and input.requires_grad):
            return super().forward(input, rois)
        assert rois.dim() == 2 and rois.size(1) == 5
        with torch.autocast("cpu", enabled=False):  # float32 products, as torchvision's autocast rule for roi_align
            out = separable_roi_align(input.float(), rois, self.output_size, self.spatial_scale,
                                      self.sampling_ratio, self.aligned)
        return out.to(input.dtype)


def use_separable_roi_align(model: nn.Module) -> int:
    """Replace every Detectron2 ``ROIAlign`` inside ``model`` by a :class:`SeparableROIAlign` with the same
    arguments (in place). Returns how many were replaced."""
    replaced = 0
    for module in list(model.modules()):
        for name, child in module.named_children():
            if type(child) is ROIAlign:
                setattr(module, name, SeparableROIAlign(child.output_size, child.spatial_scale,
                                                        child.sampling_ratio, child.aligned))
                replaced += 1
    return replaced
