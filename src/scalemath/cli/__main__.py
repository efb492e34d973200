"""`python -m scalemath.cli ...` (as accelerate launch -m runs it)."""

from scalemath.cli import main

if __name__ == "__main__":  # vLLM and Ray start processes that may re-import the main module
    main()
