"""lims: sample tracking for stem-cell laboratories."""

__version__ = "0.1.0"
