"""A seeded synthetic dataset in PASCAL VOC layout, hard enough that the method matters.

Six object classes, each a shape with its own colour family and texture, on a
cluttered textured background with distractor strokes and blobs; 1-6 instances
an image; same-class instances are often placed so they touch or overlap (CAM
connected components cannot split them). Written as VOC writes it::

    root/JPEGImages/<id>.jpg           RGB
    root/Annotations/<id>.xml          object names and boxes
    root/SegmentationClass/<id>.png    palette PNG: 0 bg, c+1 class, 255 void band
    root/SegmentationObject/<id>.png   palette PNG: 0 bg, 1..N instance, 255 void band
    root/ImageSets/Segmentation/{train,val}.txt
    root/meta.json                     parameters; a rerun with equal parameters is a no-op

Every image is drawn from its own seed (``seed``, split, index), so the set is
identical whatever the number of worker processes.
"""
import json
import logging
import os
import time
from multiprocessing import Pool
from xml.sax.saxutils import escape

import cv2
import numpy as np
from PIL import Image

__all__ = [
    "SYNTHETIC_CLASSES",
    "generate_synthetic_voc",
    "ensure_synthetic_voc",
    "render_image",
    "voc_palette",
]

logger = logging.getLogger(__name__)

SYNTHETIC_CLASSES = ("disc", "square", "triangle", "ring", "star", "cross")
# Per class: base hue (OpenCV hue, 0-179) and texture.
_CLASS_STYLE = {
    "disc": (0, "dots"),
    "square": (110, "stripes"),
    "triangle": (60, "checker"),
    "ring": (25, "gradient"),
    "star": (150, "noise"),
    "cross": (90, "stripes_diag"),
}
_VERSION = 1
VOID_BAND = 1  # half-width in pixels of the void band drawn around every object edge


def voc_palette():
    """The 256-entry PASCAL VOC colour map as a flat list (for PIL putpalette)."""
    palette = np.zeros((256, 3), np.uint8)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette[i] = (r, g, b)
    return palette.reshape(-1).tolist()


# --------------------------------------------------------------------------- #
# Drawing
# --------------------------------------------------------------------------- #
def _smooth_noise(rng, size, cells, channels=1):
    """Low-frequency noise in [0, 1], (size, size, channels)."""
    small = rng.random((cells, cells, channels)).astype(np.float32)
    big = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
    big = big.reshape(size, size, channels)
    return np.clip(big, 0, 1)


def _hsv_to_rgb(h, s, v):
    hsv = np.array([[[h % 180, s, v]]], np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _background(rng, size):
    """Cluttered textured background: coloured smooth noise, stripes, distractor strokes and blobs."""
    base = _smooth_noise(rng, size, rng.integers(3, 8), 3)
    tint = rng.uniform(60, 160, size=3).astype(np.float32)
    img = tint + (base - 0.5) * rng.uniform(60, 120)
    fine = _smooth_noise(rng, size, rng.integers(20, 40), 1)
    img += (fine - 0.5) * 40
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(6, 20)
    img += (np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period) * rng.uniform(5, 20))[..., None]
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(rng.integers(3, 9)):  # distractor strokes in random colours
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        p1 = tuple(int(v) for v in rng.integers(0, size, 2))
        p2 = tuple(int(v) for v in rng.integers(0, size, 2))
        cv2.line(img, p1, p2, color, int(rng.integers(1, 3)), lineType=cv2.LINE_AA)
    for _ in range(rng.integers(2, 6)):  # small irregular distractor blobs
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        center = tuple(int(v) for v in rng.integers(0, size, 2))
        axes = (int(rng.integers(2, 7)), int(rng.integers(2, 7)))
        cv2.ellipse(img, center, axes, float(rng.uniform(0, 180)), 0, 360, color, -1, lineType=cv2.LINE_AA)
    return img.astype(np.float32)


def _shape_mask(name, size, cy, cx, r, angle):
    """Boolean (size, size) mask of a class shape centred at (cy, cx) with radius r (pixels)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dy, dx = yy - cy, xx - cx
    ca, sa = np.cos(angle), np.sin(angle)
    u, v = dx * ca + dy * sa, -dx * sa + dy * ca  # rotated coordinates
    if name == "disc":
        return dx * dx + dy * dy <= r * r
    if name == "square":
        return (np.abs(u) <= r * 0.8) & (np.abs(v) <= r * 0.8)
    if name == "ring":
        d2 = dx * dx + dy * dy
        return (d2 <= r * r) & (d2 >= (0.5 * r) ** 2)
    if name == "cross":
        arm = r * 0.33
        return ((np.abs(u) <= r) & (np.abs(v) <= arm)) | ((np.abs(v) <= r) & (np.abs(u) <= arm))
    if name == "triangle":
        pts = [(cx + r * np.cos(angle + k * 2 * np.pi / 3), cy + r * np.sin(angle + k * 2 * np.pi / 3)) for k in range(3)]
        return _polygon_mask(size, pts)
    if name == "star":
        pts = []
        for k in range(10):
            rad = r if k % 2 == 0 else r * 0.45
            a = angle + k * np.pi / 5
            pts.append((cx + rad * np.cos(a), cy + rad * np.sin(a)))
        return _polygon_mask(size, pts)
    raise ValueError(f"unknown shape {name}")


def _polygon_mask(size, pts):
    canvas = np.zeros((size, size), np.uint8)
    poly = np.round(np.array(pts, np.float32) * 16).astype(np.int32)
    cv2.fillPoly(canvas, [poly], 1, lineType=cv2.LINE_8, shift=4)
    return canvas.astype(bool)


def _texture(rng, name, size):
    """RGB texture (size, size, 3) float for one instance of class ``name``."""
    hue, kind = _CLASS_STYLE[name]
    hue = hue + rng.integers(-8, 9)
    c1 = _hsv_to_rgb(hue, rng.integers(170, 256), rng.integers(170, 256))
    c2 = _hsv_to_rgb(hue + rng.integers(-10, 11), rng.integers(120, 256), rng.integers(40, 110))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    period = rng.uniform(4, 8)
    phase = rng.uniform(0, 2 * np.pi)
    if kind == "dots":
        t = ((np.sin(xx * 2 * np.pi / period + phase) * np.sin(yy * 2 * np.pi / period)) > 0.4).astype(np.float32)
    elif kind == "stripes":
        t = (np.sin(yy * 2 * np.pi / period + phase) > 0).astype(np.float32)
    elif kind == "stripes_diag":
        t = (np.sin((xx + yy) * 2 * np.pi / (period * 1.4) + phase) > 0).astype(np.float32)
    elif kind == "checker":
        t = (((xx // period).astype(int) + (yy // period).astype(int)) % 2).astype(np.float32)
    elif kind == "gradient":
        a = rng.uniform(0, 2 * np.pi)
        t = (xx * np.cos(a) + yy * np.sin(a)) / size
        t = (t - t.min()) / (t.max() - t.min() + 1e-6)
    else:  # noise
        t = _smooth_noise(rng, size, 24, 1)[..., 0]
    t = t[..., None]
    return c1 * (1 - t) + c2 * t


def _layout(rng, size):
    """Instances as (class name, cy, cx, r, angle); same-class neighbours often touch."""
    n_inst = int(rng.integers(1, 7))
    n_cls = int(rng.integers(1, min(3, n_inst) + 1))
    classes = list(rng.choice(len(SYNTHETIC_CLASSES), size=n_cls, replace=False))
    names = [SYNTHETIC_CLASSES[c] for c in classes]
    names += [SYNTHETIC_CLASSES[classes[i]] for i in rng.integers(0, n_cls, n_inst - n_cls)]
    rng.shuffle(names)
    r_max = size * (0.22 if n_inst <= 2 else 0.17)
    placed = []
    for name in names:
        r = float(rng.uniform(size * 0.1, r_max))
        same = [p for p in placed if p[0] == name]
        if same and rng.random() < 0.6:  # touch / overlap a same-class instance
            _, py, px, pr, _ = same[int(rng.integers(len(same)))]
            a = rng.uniform(0, 2 * np.pi)
            d = (pr + r) * rng.uniform(0.75, 0.95)
            cy, cx = py + d * np.sin(a), px + d * np.cos(a)
        else:
            cy, cx = rng.uniform(r * 0.6, size - r * 0.6, 2)
        cy = float(np.clip(cy, r * 0.5, size - r * 0.5))
        cx = float(np.clip(cx, r * 0.5, size - r * 0.5))
        placed.append((name, cy, cx, r, float(rng.uniform(0, 2 * np.pi))))
    return placed


def render_image(seed, size=128, min_visible=0.35):
    """Draw one image.

    Returns:
        image: uint8 (size, size, 3) RGB.
        instances: list of (class index, visible mask (size, size) bool), in paint order.
    """
    rng = np.random.default_rng(seed)
    for _attempt in range(50):
        layout = _layout(rng, size)
        full = [_shape_mask(n, size, cy, cx, r, a) for n, cy, cx, r, a in layout]
        visible, covered = [], np.zeros((size, size), bool)
        for m in reversed(full):  # later instances are painted on top
            visible.append(m & ~covered)
            covered |= m
        visible = visible[::-1]
        if all(v.sum() >= max(40, min_visible * f.sum()) for v, f in zip(visible, full)):
            break
    image = _background(rng, size)
    for (name, *_), m in zip(layout, full):
        tex = _texture(rng, name, size)
        image[m] = tex[m]
    image += rng.normal(0, 4, image.shape)  # sensor noise
    image = np.clip(image, 0, 255).astype(np.uint8)
    instances = [(SYNTHETIC_CLASSES.index(n), v) for (n, *_), v in zip(layout, visible)]
    return image, instances


def _void_band(instances, size):
    """Pixels within VOID_BAND of any object edge (VOC marks object borders 255)."""
    edges = np.zeros((size, size), np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    for _, m in instances:
        m8 = m.astype(np.uint8)
        edges |= cv2.dilate(m8, kernel) ^ cv2.erode(m8, kernel)
    if VOID_BAND > 1:
        edges = cv2.dilate(edges, np.ones((2 * VOID_BAND - 1,) * 2, np.uint8))
    return edges.astype(bool)


def _xml(image_id, size, instances):
    objs = []
    for c, m in instances:
        ys, xs = np.nonzero(m)
        objs.append(
            f"<object><name>{escape(SYNTHETIC_CLASSES[c])}</name><difficult>0</difficult>"
            f"<bndbox><xmin>{xs.min() + 1}</xmin><ymin>{ys.min() + 1}</ymin>"
            f"<xmax>{xs.max() + 1}</xmax><ymax>{ys.max() + 1}</ymax></bndbox></object>"
        )
    return (
        f"<annotation><folder>synthetic_voc</folder><filename>{image_id}.jpg</filename>"
        f"<size><width>{size}</width><height>{size}</height><depth>3</depth></size>"
        f"<segmented>1</segmented>{''.join(objs)}</annotation>\n"
    )


def _image_seed(seed, split, index):
    return [seed, {"train": 1, "val": 2}[split], index]


def _write_one(job):
    root, split, index, seed, size = job
    image_id = f"{split}_{index:05d}"
    image, instances = render_image(_image_seed(seed, split, index), size)
    cls_map = np.zeros((size, size), np.uint8)
    obj_map = np.zeros((size, size), np.uint8)
    for k, (c, m) in enumerate(instances, start=1):
        cls_map[m] = c + 1
        obj_map[m] = k
    void = _void_band(instances, size)
    cls_map[void] = 255
    obj_map[void] = 255
    palette = voc_palette()
    Image.fromarray(image).save(os.path.join(root, "JPEGImages", image_id + ".jpg"), quality=95)
    for folder, arr in (("SegmentationClass", cls_map), ("SegmentationObject", obj_map)):
        png = Image.fromarray(arr, mode="P")
        png.putpalette(palette)
        png.save(os.path.join(root, folder, image_id + ".png"))
    with open(os.path.join(root, "Annotations", image_id + ".xml"), "w") as f:
        f.write(_xml(image_id, size, instances))
    return image_id, [c for c, _ in instances]


def _params(num_train, num_val, image_size, seed):
    return {
        "version": _VERSION,
        "classes": list(SYNTHETIC_CLASSES),
        "num_train": num_train,
        "num_val": num_val,
        "image_size": image_size,
        "seed": seed,
    }


def generate_synthetic_voc(root, num_train=2000, num_val=300, image_size=128, seed=0, num_workers=None):
    """Write the synthetic set under ``root`` (VOC layout). Returns its meta dict.

    The meta dict holds the parameters, the generation time in seconds and, per
    image id, the class index of every instance in SegmentationObject order.
    """
    start = time.perf_counter()
    for folder in ("JPEGImages", "Annotations", "SegmentationClass", "SegmentationObject", "ImageSets/Segmentation"):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    jobs = [(root, "train", i, seed, image_size) for i in range(num_train)]
    jobs += [(root, "val", i, seed, image_size) for i in range(num_val)]
    workers = num_workers if num_workers is not None else min(os.cpu_count() or 1, 8)
    if workers > 1 and len(jobs) > 50:
        with Pool(workers) as pool:
            results = pool.map(_write_one, jobs, chunksize=32)
    else:
        results = [_write_one(j) for j in jobs]
    for split, n in (("train", num_train), ("val", num_val)):
        with open(os.path.join(root, "ImageSets", "Segmentation", f"{split}.txt"), "w") as f:
            f.write("".join(f"{split}_{i:05d}\n" for i in range(n)))
    meta = _params(num_train, num_val, image_size, seed)
    meta["instances"] = {image_id: classes for image_id, classes in results}
    meta["seconds"] = round(time.perf_counter() - start, 2)
    with open(os.path.join(root, "meta.json"), "w") as f:
        json.dump(meta, f)
    logger.info("synthetic VOC: %d train + %d val images in %.1f s -> %s", num_train, num_val, meta["seconds"], root)
    return meta


def ensure_synthetic_voc(root, num_train=2000, num_val=300, image_size=128, seed=0, num_workers=None):
    """Generate the set unless ``root/meta.json`` records the same parameters. Returns ``root``."""
    meta_path = os.path.join(root, "meta.json")
    if os.path.isfile(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        wanted = _params(num_train, num_val, image_size, seed)
        split_files = [os.path.join(root, "ImageSets", "Segmentation", f"{s}.txt") for s in ("train", "val")]
        if all(meta.get(k) == v for k, v in wanted.items()) and all(map(os.path.isfile, split_files)):
            return root
    generate_synthetic_voc(root, num_train, num_val, image_size, seed, num_workers)
    return root
