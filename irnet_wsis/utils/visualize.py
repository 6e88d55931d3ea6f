"""Per-image figures of the pipeline, like the paper's Fig. 6.

Panels: image, CAMs (max over classes), displacement field D as a colour wheel
(hue = direction, brightness = length), class boundary map B, relation labels
(VOC palette), pseudo instances (one colour each) with class names.
"""
import os

import numpy as np

__all__ = ["displacement_to_rgb", "label_to_rgb", "instances_to_rgb", "draw_irnet_figure"]


def displacement_to_rgb(displacement, max_length=None):
    """D (2, h, w) (dy, dx) -> uint8 (h, w, 3): hue = direction angle, value = length / max_length."""
    import matplotlib.colors as mcolors

    d = np.asarray(displacement, np.float32)
    angle = np.arctan2(d[0], d[1])  # 0 = pointing right, pi/2 = down
    length = np.hypot(d[0], d[1])
    max_length = max_length or max(float(length.max()), 1e-6)
    hsv = np.stack([(angle + np.pi) / (2 * np.pi), np.ones_like(angle), np.clip(length / max_length, 0, 1)], -1)
    return (mcolors.hsv_to_rgb(hsv) * 255).astype(np.uint8)


def label_to_rgb(label):
    """Class label map (0 bg, c + 1, 255 ignored) -> uint8 (h, w, 3) in the VOC palette (255 white)."""
    from ..data.synthetic import voc_palette

    palette = np.array(voc_palette(), np.uint8).reshape(256, 3)
    palette[255] = 255
    return palette[np.asarray(label, np.uint8)]


def instances_to_rgb(instances, shape, seed=0):
    """Masks of {"mask": bool (H, W)} -> uint8 (H, W, 3), a random colour each, later ones on top."""
    rng = np.random.default_rng(seed)
    out = np.zeros(tuple(shape) + (3,), np.uint8)
    for inst in instances:
        out[inst["mask"]] = rng.integers(60, 256, 3)
    return out


def draw_irnet_figure(out_path, image_rgb, cams=None, displacement=None, boundary=None, relation_label=None,
                      instances=None, class_names=None, title=""):
    """Save a one-row figure of the given panels to ``out_path`` (PNG). Returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("image", image_rgb, None)]
    if cams is not None and len(cams):
        panels.append(("CAM (max over classes)", np.asarray(cams).max(axis=0), "jet"))
    if displacement is not None:
        panels.append(("displacement D", displacement_to_rgb(displacement), None))
    if boundary is not None:
        panels.append(("boundary B", np.asarray(boundary), "gray_r"))
    if relation_label is not None:
        panels.append(("relation labels", label_to_rgb(relation_label), None))
    if instances is not None:
        panels.append((f"pseudo instances ({len(instances)})", instances_to_rgb(instances, image_rgb.shape[:2]), None))
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 2.9), dpi=110)
    axes = np.atleast_1d(axes)
    for ax, (name, data, cmap) in zip(axes, panels):
        if cmap:
            ax.imshow(data, cmap=cmap, vmin=0, vmax=1)
        else:
            ax.imshow(data)
        ax.set_title(name, fontsize=8)
        ax.axis("off")
    if instances is not None and class_names is not None:
        for inst in instances:
            ys, xs = np.nonzero(inst["mask"])
            if len(ys):
                axes[-1].text(xs.mean(), ys.mean(), f"{class_names[inst['category_id']]} {inst['score']:.2f}",
                              fontsize=5, color="white", ha="center")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    fig.savefig(out_path)
    plt.close(fig)
    return out_path
