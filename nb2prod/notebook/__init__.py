"""The notebook layer: the file, its JSON structure, its cells with their marks, IPython syntax.

First stage of the pipeline. It may import nb2prod's base modules (errors, naming) only;
reader.py is the only module of nb2prod that imports nbformat.
"""
