"""gaitprep: explicit, versioned, checked preparation of Scoliosis1K-style gait data."""

__version__ = "0.1.0"
