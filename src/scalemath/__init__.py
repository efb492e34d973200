"""scalemath: scale math fine-tuning data and measure what each piece buys."""

__version__ = "0.1.0"
