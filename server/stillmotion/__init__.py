"""Stillmotion: turn graded photos into short clips that keep their look."""

__version__ = "0.1.0"
