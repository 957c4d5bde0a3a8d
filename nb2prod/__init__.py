"""nb2prod: lift the deploy cells of a Jupyter notebook into an installable, tested package."""

__version__ = "0.1.0"
