"""imgcat: one catalog of every photo and video, and safe clean-up."""

__version__ = "0.1.0"
