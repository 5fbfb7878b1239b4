"""Built-in Jinja2 templates (site/, email/, editor/), shipped as package data."""
