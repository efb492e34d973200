"""Scaling-law fits of accuracy against data amount.

- `fit.fit(x, y, model="loglinear"|"segmented"|"power", sigma=None, ci=0.95) -> FitResult`
  (params, intervals, R², AIC/AICc/BIC; `.predict(n)`, `.band(n)`, `.data_needed(target)`)
- `fit.fit_auto(x, y) -> (best, fits)`: lowest AICc with Akaike weights
- `plots.fit_figure(fits, ...)`: data, curve and band on a log axis
(`scalemath fit results.csv --x data_size --y accuracy`.)
"""
