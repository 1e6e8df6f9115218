"""ssmlab: build, inspect and explain a Session Manager lab in a private subnet."""

__version__ = "0.1.0"
