"""An offline stand-in for Bulbapedia: original episode pages in MediaWiki markup for the demo."""
