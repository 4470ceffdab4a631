"""A published path kept as a re-export: the public-files engine lives in :mod:`hero.services.public`."""
from hero.services.public import StaticChain, StaticFiles

__all__ = ["StaticChain", "StaticFiles"]
