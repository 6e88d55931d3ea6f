"""Connected regions of a label map, vectorised on the map's device.

Used to tell apart same-class pixels of different connected regions of the
relation label map (two separate blobs of one class are two instances).
"""
import torch
import torch.nn.functional as F

__all__ = ["label_regions"]


def label_regions(labels: torch.Tensor, ignore: int = 255) -> torch.Tensor:
    """8-connected regions of equal label.

    Args:
        labels: (N, h, w) long label maps; pixels equal to ``ignore`` belong to no region.
    Returns:
        (N, h, w) long region ids, -1 on ignored pixels. Ids are unique across the batch (the
        flat index of the region's first pixel), not consecutive.
    """
    n, h, w = labels.shape
    flat_size = n * h * w
    ids = torch.arange(flat_size, device=labels.device).view(n, h, w)
    valid = labels != ignore
    big = flat_size  # larger than any id
    ids = torch.where(valid, ids, torch.full_like(ids, big))
    padded_labels = F.pad(labels, (1, 1, 1, 1), value=ignore)
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
    same = [(padded_labels[:, 1 + dy: 1 + dy + h, 1 + dx: 1 + dx + w] == labels) & valid for dy, dx in shifts]
    while True:
        padded = F.pad(ids, (1, 1, 1, 1), value=big)
        neighbour_min = ids
        for (dy, dx), s in zip(shifts, same):
            shifted = padded[:, 1 + dy: 1 + dy + h, 1 + dx: 1 + dx + w]
            neighbour_min = torch.minimum(neighbour_min, torch.where(s, shifted, torch.full_like(shifted, big)))
        # pointer jumping: every pixel also takes the id its id's pixel holds (ids are pixel indices)
        flat = neighbour_min.flatten()
        jumped = torch.where(flat < big, flat[flat.clamp(max=flat_size - 1)], flat).view(n, h, w)
        new = torch.minimum(neighbour_min, jumped)
        if torch.equal(new, ids):
            break
        ids = new
    return torch.where(valid, ids, torch.full_like(ids, -1))
