"""The version of nbmlops, in a module of its own so any layer can read it without importing
the top package (which re-exports it as ``nbmlops.__version__``)."""

__version__ = "0.1.0"
