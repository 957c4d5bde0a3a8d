"""The cache of build results between runs, used only by the orchestration layer.

Nothing in the pipeline's stages (notebook, analysis, lift, emit, output) imports it: the
orchestration memoises those stages' pure functions from outside.
"""
