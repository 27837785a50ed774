"""The package version (its own module: ``matcalc.language.cache`` keys its files by it)."""
__version__ = "0.1.0"
