"""The output layer: black formatting of the emitted code, and writing packages safely.

Last stage of the pipeline. It may import emit's text helpers and the base modules;
formatting.py is the only module of nb2prod that imports black.
"""
