"""The Jinja2 templates of the pages and the email; shipped inside the wheel as pipelines.reports (pipelines/publish/render.py)."""
