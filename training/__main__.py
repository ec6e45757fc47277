"""python -m training: train the digit model (see training/train.py)."""

from .train import main

if __name__ == "__main__":  # not again in the spawned workers that render the captchas
    main()
