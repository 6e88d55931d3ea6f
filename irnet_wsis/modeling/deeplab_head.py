"""DeepLabV3+ head whose ASPP image pooling covers the whole feature map, for images of any size.

Detectron2's ``DeepLabV3PlusHead`` (projects/DeepLab) pools ASPP's image-level branch over a fixed window of
the training crop (``INPUT.CROP.SIZE / stride``) and stops on a test image whose feature map is not a
multiple of that window: Cityscapes' 1024 x 2048 images are, VOC's and COCO's photos of every size are
not. ``DeepLabV3PlusImagePoolHead`` (``MODEL.SEM_SEG_HEAD.NAME``) pools globally instead, as the DeepLabV3
paper's image-level features; on the crop-sized training inputs of ``irnet_wsis.data.sem_seg_mapper`` both
pool the same window. Everything else is Detectron2's head.
"""
from detectron2.modeling import SEM_SEG_HEADS_REGISTRY
from detectron2.projects.deeplab import DeepLabV3PlusHead

__all__ = ["DeepLabV3PlusImagePoolHead"]


@SEM_SEG_HEADS_REGISTRY.register()
class DeepLabV3PlusImagePoolHead(DeepLabV3PlusHead):
    """``DeepLabV3PlusHead`` with global ASPP image pooling. Input: backbone features ``{name: (N, C, H/s, W/s)}``
    (``MODEL.SEM_SEG_HEAD.IN_FEATURES``); output at inference: logits ``(N, NUM_CLASSES, H, W)``."""

    @classmethod
    def from_config(cls, cfg, input_shape):
        ret = super().from_config(cfg, input_shape)
        ret["train_size"] = None  # ASPP: nn.AdaptiveAvgPool2d(1) instead of AvgPool2d(crop / stride)
        return ret
