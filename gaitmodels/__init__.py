"""gaitmodels: ScoNet, ScoNet-MT, ScoNet-MT-ske and DRF, trained and evaluated through gaitprep manifests."""

__version__ = "0.1.0"
