"""The spiders: `bulbapedia` (episode plots) and `genius` (lyrics)."""
