"""carework: one shared individual plan per patient, written by DPS and NAV together."""

__version__ = "0.1.0"
