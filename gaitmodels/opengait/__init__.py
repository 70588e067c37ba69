"""OpenGait interoperability: import OpenGait ScoNet/DRF checkpoints as runs, export runs for OpenGait.

``names`` maps parameter names both ways and reads the architecture off tensor shapes; ``importer`` writes
a gaitmodels run directory from an OpenGait checkpoint; ``exporter`` writes an OpenGait checkpoint and
YAML config from a run.
"""
