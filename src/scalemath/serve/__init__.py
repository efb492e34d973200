"""An OpenAI-compatible HTTP server over any Engine (`scalemath serve`); see server.py."""
