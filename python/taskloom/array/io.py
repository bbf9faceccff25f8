"""Reading and writing arrays in storage formats: zarr, HDF5 (h5py), TileDB, as
``dask.array``'s ``from_zarr``/``to_zarr``/``to_hdf5``.
"""

from __future__ import annotations

__all__: list[str] = []
