"""Example experiments that reprospec's specs run."""
