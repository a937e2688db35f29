"""Build tools of the repository (not shipped): the relocated wheel and zip of `make dist`."""
