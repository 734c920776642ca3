"""The ``tapegrad`` command line."""
