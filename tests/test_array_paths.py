"""Names at Dask's other ``dask.array`` paths: ``image.imread``, ``utils.meta_from_array``,
``api.normalize_chunks_cached``, ``lib.stride_tricks``, ``register_chunk_type``."""

from __future__ import annotations

import numpy as np
import pytest

import taskloom.array as ta
from taskloom.array import api, image, utils
from taskloom.array.lib import stride_tricks

dask_array = pytest.importorskip("dask.array")
dask_api = pytest.importorskip("dask.array.api")
dask_image = pytest.importorskip("dask.array.image")
PIL = pytest.importorskip("PIL.Image")


def test_imread_stacks_files_in_name_order_one_block_each(tmp_path):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (5, 7, 3), dtype=np.uint8) for _ in range(4)]
    for i, im in enumerate(images):
        PIL.fromarray(im).save(tmp_path / f"im{i}.png")
    x = image.imread(str(tmp_path / "*.png"))
    theirs = dask_image.imread(str(tmp_path / "*.png"), imread=lambda f: np.asarray(PIL.open(f)))
    assert (x.shape, x.chunks, x.dtype) == (theirs.shape, theirs.chunks, theirs.dtype)
    np.testing.assert_array_equal(x.compute(), np.stack(images))
    np.testing.assert_array_equal(
        image.imread(str(tmp_path / "*.png"), preprocess=lambda a: a[..., 0]).compute(),
        np.stack(images)[..., 0],
    )


def test_imread_refuses_no_files_and_images_of_other_shapes(tmp_path):
    with pytest.raises(ValueError, match="no files match"):
        image.imread(str(tmp_path / "*.png"))
    np.save(tmp_path / "a.npy", np.zeros((2, 2)))
    np.save(tmp_path / "b.npy", np.zeros((3, 2)))
    x = image.imread(str(tmp_path / "*.npy"), imread=np.load)
    with pytest.raises(ValueError, match=r"has shape \(3, 2\)"):
        x.compute()


@pytest.mark.parametrize(
    "x, ndim, dtype",
    [
        (np.ones((3, 4)), None, None),
        (np.ones((3, 4)), 1, "i4"),
        (np.ones(3), 3, None),
        (np.ma.masked_array([1.0, 2.0]), 2, "f4"),
        (np.float32(5), None, None),
        (None, 2, "f4"),
        (np.ndarray, 1, "u1"),
    ],
)
def test_meta_from_array_matches_dask(x, ndim, dtype):
    ours = utils.meta_from_array(x, ndim, dtype)
    theirs = dask_array.utils.meta_from_array(x, ndim, dtype)
    assert type(ours) is type(theirs)
    assert (ours.shape, ours.dtype) == (theirs.shape, theirs.dtype)


def test_meta_from_array_of_a_taskloom_array_is_an_empty_block():
    meta = utils.meta_from_array(ta.ones((4, 5), chunks=2, dtype="i2"))
    assert (type(meta), meta.shape, meta.dtype) == (np.ndarray, (0, 0), np.dtype("i2"))


def test_normalize_chunks_cached_equals_normalize_chunks():
    for chunks, shape in [((2, 2), (4, 3)), (-1, (5,)), (((1, 2), (3,)), (3, 3)), (3, (10, 7))]:
        assert api.normalize_chunks_cached(chunks, shape) == ta.normalize_chunks(chunks, shape)
        assert api.normalize_chunks_cached(chunks, shape) == dask_api.normalize_chunks(
            chunks, shape
        )


def test_stride_tricks_path_is_the_overlap_function():
    x = np.arange(20.0).reshape(4, 5)
    ours = stride_tricks.sliding_window_view(ta.from_array(x, chunks=2), (2, 3))
    np.testing.assert_array_equal(
        ours.compute(), np.lib.stride_tricks.sliding_window_view(x, (2, 3))
    )


class _Other:
    """An array type of another library: has numpy's protocols, is no numpy array."""

    def __init__(self, data):
        self.data = np.asarray(data)

    def __array__(self, dtype=None, copy=None):
        return self.data

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return "theirs"


def test_register_chunk_type_lets_taskloom_take_mixed_operations():
    x = ta.arange(4, chunks=2)
    other = _Other([10, 20, 30, 40])
    # Unregistered: the other library decides, as in Dask.
    assert np.add(x, other) == "theirs"
    ta.register_chunk_type(_Other)
    try:
        result = np.add(x, other)
        assert isinstance(result, ta.Array)
        np.testing.assert_array_equal(result.compute(), [10, 21, 32, 43])
    finally:
        from taskloom.array import protocols

        protocols._CHUNK_TYPES.remove(_Other)
