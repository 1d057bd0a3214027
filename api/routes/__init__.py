"""HTTP routes, one blueprint per family: generation, OpenAI compatibility, service endpoints."""
