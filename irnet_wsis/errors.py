"""The one error type the pipeline raises for bad input.

Messages are one line and name the file and image id, e.g.
``BadInputError("JPEGImages/2007_000032.jpg (image 2007_000032): cannot decode image")``.
"""
import os

__all__ = ["BadInputError", "bad_input", "require_file"]


class BadInputError(ValueError):
    """Input data is missing, unreadable or inconsistent. The message is one line."""


def bad_input(path, what, image_id=None):
    """Build a ``BadInputError`` ``"<path> (image <id>): <what>"``."""
    where = str(path)
    if image_id is not None:
        where += f" (image {image_id})"
    return BadInputError(f"{where}: {what}")


def require_file(path, what):
    """Raise ``BadInputError("<path>: <what>")`` unless ``path`` is an existing file."""
    if not os.path.isfile(path):
        raise BadInputError(f"{path}: {what}")
