"""bench: measure the accuracy-cost trade-offs of text classifiers."""

__version__ = "0.1.0"
