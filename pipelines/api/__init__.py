"""The HTTP API and report site (FastAPI), and who may call them."""
