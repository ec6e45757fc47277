"""python -m training: rebuild the digit model from scratch (see training/train.py)."""

from .train import main

main()
