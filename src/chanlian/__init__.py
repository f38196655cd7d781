"""Chanlian (产链): an industrial internet platform for county characteristic-industry clusters."""

__version__ = "0.1.0"
