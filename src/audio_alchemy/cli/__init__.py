"""The ``alchemy`` command: a thin Typer shell over the Python API, one module per area."""
