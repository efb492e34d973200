"""`python -m scalemath.cli ...` (as accelerate launch -m runs it)."""
from scalemath.cli import main

main()
