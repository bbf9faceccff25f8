"""Images as arrays, as ``dask.array.image``: one block per file, read when computed.

Policy: the files matching a glob pattern are sorted by name and stacked along a new
first axis; the first file is read once, eagerly, for the blocks' shape and dtype
(as Dask does), and every file must have that shape. The default reader is Pillow's
(``pip install 'taskloom[image]'``); Dask's default, scikit-image's ``imread``, or any
function from a file name to a numpy array can be passed as ``imread=``.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from taskloom.array.core import Array
from taskloom.tokenize import tokenize

__all__ = ["imread"]


def _pillow_imread(filename: str) -> np.ndarray:
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError(
            "taskloom.array.image.imread reads images with Pillow by default: "
            "pip install 'taskloom[image]' (or pass imread=, e.g. skimage.io.imread)"
        ) from e
    with Image.open(filename) as image:
        return np.asarray(image)


def _read(filename: str, imread: Callable, preprocess: Callable | None, shape: tuple) -> Any:
    block = imread(filename)
    if preprocess is not None:
        block = preprocess(block)
    if block.shape != shape:
        raise ValueError(
            f"image {filename!r} has shape {block.shape}, not {shape} like the first file: "
            "imread stacks images of one shape"
        )
    return block[np.newaxis]


def imread(
    filename: str, imread: Callable | None = None, preprocess: Callable | None = None
) -> Array:
    """Read a stack of images (a glob pattern) into an array, one block per file.

    Parameters
    ----------
    filename : str
        A glob pattern (``"images/*.png"``) or one file name.
    imread : callable, optional
        Reads one file into a numpy array; default Pillow's reader.
    preprocess : callable, optional
        Applied to each image after reading.

    Returns
    -------
    Array
        Of shape ``(number of files, *image shape)``, one block per file.

    Raises
    ------
    ValueError
        If no file matches ``filename``.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> for i in range(3):
    ...     np.save(os.path.join(folder, f"{i}.npy"), np.full((2, 2), i))
    >>> x = imread(os.path.join(folder, "*.npy"), imread=np.load)
    >>> x.shape, x.numblocks, int(x.sum().compute())
    ((3, 2, 2), (3, 1, 1), 12)
    """
    reader = imread or _pillow_imread
    filenames = sorted(glob.glob(os.path.expanduser(filename)))
    if not filenames:
        raise ValueError(f"no files match {filename!r}")
    sample = reader(filenames[0])
    if preprocess is not None:
        sample = preprocess(sample)
    shape = sample.shape
    name = f"imread-{tokenize(filenames, [os.path.getmtime(f) for f in filenames], reader)}"
    zeros = (0,) * len(shape)
    layer = {
        (name, i, *zeros): (_read, f, reader, preprocess, shape) for i, f in enumerate(filenames)
    }
    chunks = ((1,) * len(filenames), *((s,) for s in shape))
    return Array({name: layer}, name, chunks, sample.dtype)
