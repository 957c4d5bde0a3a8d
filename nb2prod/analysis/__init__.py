"""The analysis layer: what each statement of a cell reads, binds and changes (libcst trees).

It may import the notebook layer and the base modules; gathering facts never rewrites code.
"""
