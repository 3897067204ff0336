"""The ``sanad`` command (``cli.main``), on top of every other package: it may import ``api``
and ``evals``; nothing imports it."""
