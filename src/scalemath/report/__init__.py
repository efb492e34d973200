"""`scalemath report RUN_DIR`: `html.build_report(run_dir, ReportConfig(...)) -> Path` writes one
self-contained HTML page (template.html, Jinja2; PNGs embedded and written beside it)."""
