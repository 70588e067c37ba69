"""Detector-like corruption of true keypoints: what a ViTPose-style estimator would write.

Domain reference §1.1: the real releases have mean confidence ~0.90 in every class and no joint at or
below 0.05. We add, per frame:

* Gaussian pixel noise with a standard deviation of ``noise_frac`` × the person's pixel height
  (0.7 % by default: 0.75–1.8 px for a subject 110–260 px tall at 640×360). Pose estimators work on
  person crops, so their error scales with the person, not with the image;
* confidences ``N(0.90, 0.035)`` clipped to [0.3, 0.99];
* a ``low_conf_rate`` share of frames that are low-confidence throughout (confidences U(0.06, 0.4),
  4× the pixel noise), like a blurred or occluded frame;
* a ``missing_rate`` share of joints written as ``(0, 0, 0)``, the value the KNN gap fill treats as
  missing (domain §4.1 A).

Coordinates are rounded to 1/1000 pixel and confidences to 1e-4, so the JSON text and the float64
pickle hold exactly the same numbers.
"""

from __future__ import annotations

import numpy as np

from gaitprep.errors import BadInputError


def detect(
    pose: np.ndarray,
    rng: np.random.Generator,
    *,
    missing_rate: float = 0.01,
    low_conf_rate: float = 0.02,
    noise_frac: float = 0.007,
) -> np.ndarray:
    """Corrupt a true pose ``float64 (T, 17, 3)`` (image px) into a detector output of the same shape.

    Missing joints are exactly ``(0.0, 0.0, 0.0)``; every other confidence is in [0.06, 0.99].
    """
    if not 0.0 <= missing_rate <= 1.0 or not 0.0 <= low_conf_rate <= 1.0:
        raise BadInputError("missing_rate and low_conf_rate must be in [0, 1]")
    T, J, _ = pose.shape
    xy = pose[..., :2]
    person_h = np.ptp(xy[..., 1], axis=1)  # (T,) pixels
    sigma = noise_frac * np.maximum(person_h, 1.0)
    low = rng.random(T) < low_conf_rate
    sigma = np.where(low, 4.0 * sigma, sigma)
    noisy = xy + rng.normal(0.0, 1.0, size=(T, J, 2)) * sigma[:, None, None]
    conf = np.clip(rng.normal(0.90, 0.035, size=(T, J)), 0.3, 0.99)
    conf = np.where(low[:, None], rng.uniform(0.06, 0.4, size=(T, J)), conf)
    out = np.concatenate([np.round(noisy, 3), np.round(conf, 4)[..., None]], axis=-1)
    missing = rng.random((T, J)) < missing_rate
    out[missing] = 0.0
    return out
