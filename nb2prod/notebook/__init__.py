"""The notebook layer: the file, its JSON structure, its cells with their marks, IPython syntax.

First stage of the pipeline. It may import nb2prod's base modules (errors, naming) only;
reader.py is the only module of nb2prod that imports nbformat.
"""

# The tools whose cell marks nb2prod reads (`cells.mark`); here, where the command line's
# options can name them without loading the reader.
DIALECTS = ("nb2prod", "kale", "nbdev")
