"""Readers and writers: layout discovery, restricted unpickling, raw frames, atomic writes, the dataset
store (``store``: Zarr v3 or OpenGait pickles, one sequence at a time).

Reading real detector output: ``frame_order`` (files by the number in their name), ``person`` (which
detection is the walking subject), ``body25`` (OpenPose BODY_25 as COCO-17), ``joints`` (non-finite numbers
are missing joints); ``read_options.ReadOptions`` holds the choices a manifest records.
"""
