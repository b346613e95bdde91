"""Helpers every test folder imports from one place (``tests`` is on pytest's ``pythonpath``):
:mod:`helpers.audio` (synthetic signals and files), :mod:`helpers.images` (tiny images, VGG
state dicts), :mod:`helpers.feedforward` (tiny training settings)."""
